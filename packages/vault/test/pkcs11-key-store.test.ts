import assert from 'node:assert/strict';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  createVault,
  MemoryVaultStore,
  Pkcs11KeyStore,
  type Pkcs11KeyStoreOptions,
  VaultError,
} from '../src/index.ts';
import { aesKeyWrap } from '../src/key-stores/aes-key-wrap.ts';
import type { Pkcs11Module } from '../src/key-stores/pkcs11/binding.ts';
import * as ck from '../src/key-stores/pkcs11/constants.ts';
import { createSoftHsm, listSecretKeys } from './helpers/softhsm.ts';

const sharedLabel = `dup-${randomBytes(3).toString('hex')}`;
const hsm = createSoftHsm([
  'main',
  'fresh-login',
  { name: 'dup-1', tokenLabel: sharedLabel },
  { name: 'dup-2', tokenLabel: sharedLabel },
]);
const main = hsm.tokens.main!;
const opened: Pkcs11KeyStore[] = [];
after(async () => {
  for (const store of opened) await store.close();
  hsm.cleanup();
});

const base = (overrides: Partial<Pkcs11KeyStoreOptions> = {}): Pkcs11KeyStoreOptions => ({
  library: hsm.library,
  tokenLabel: main.tokenLabel,
  pin: main.pin,
  keyLabel: `kek-${randomUUID()}`,
  generateIfMissing: true,
  ...overrides,
});
async function open(overrides: Partial<Pkcs11KeyStoreOptions> = {}): Promise<Pkcs11KeyStore> {
  const store = await Pkcs11KeyStore.open(base(overrides));
  opened.push(store);
  return store;
}

/** Asserts a fail-closed refusal whose message says why and carries no PIN. */
async function refused(promise: Promise<unknown>, why: RegExp): Promise<void> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof VaultError, String(error));
  assert.equal(error.code, 'ERR_VAULT_KEY_UNAVAILABLE');
  assert.match(error.message, why);
  for (const token of Object.values(hsm.tokens)) {
    assert.ok(
      !error.message.includes(token.pin) && !(error.stack ?? '').includes(token.pin),
      'no PIN in the error',
    );
  }
}

/**
 * pkcs11js used directly, as another part of the same process would: it shares the library the key
 * stores initialised (so C_Initialize answers "already initialised") and the token's login state.
 */
function rawSession(): { module: Pkcs11Module; session: Buffer; slot: Buffer } {
  const { PKCS11 } = createRequire(import.meta.url)('pkcs11js') as { PKCS11: new () => Pkcs11Module };
  const module = new PKCS11();
  module.load(hsm.library);
  try {
    module.C_Initialize();
  } catch (error) {
    assert.match((error as Error).message, /CKR_CRYPTOKI_ALREADY_INITIALIZED/);
  }
  const slot = module
    .C_GetSlotList(true)
    .find((s) => module.C_GetTokenInfo(s).label.trimEnd() === main.tokenLabel)!;
  const session = module.C_OpenSession(slot, ck.CKF_SERIAL_SESSION | ck.CKF_RW_SESSION);
  try {
    module.C_Login(session, ck.CKU_USER, main.pin);
  } catch (error) {
    assert.match((error as Error).message, /CKR_USER_ALREADY_LOGGED_IN/);
  }
  return { module, session, slot };
}

describe('Pkcs11KeyStore (SoftHSM2)', () => {
  it('generates the KEK inside the token as a sensitive, never-extractable AES-256 wrap/unwrap-only key', async () => {
    const store = await open();
    const listing = listSecretKeys(hsm, main);
    const block = listing.split(/\n(?=Secret Key Object)/).find((part) => part.includes(store.keyLabel));
    assert.ok(block, listing);
    assert.match(block, /AES length 32/);
    assert.match(block, /Usage:\s+wrap, unwrap/);
    assert.match(block, /Access:.*\bsensitive\b.*never extractable/);
    assert.doesNotMatch(block, /Usage:.*(encrypt|decrypt|sign|verify|derive)/);
  });

  it('the KEK value cannot be read out of the token (CKR_ATTRIBUTE_SENSITIVE)', async () => {
    const store = await open();
    const { module, session } = rawSession();
    module.C_FindObjectsInit(session, [{ type: ck.CKA_LABEL, value: store.keyLabel }]);
    const [handle] = module.C_FindObjects(session, 1);
    module.C_FindObjectsFinal(session);
    assert.ok(handle);
    assert.throws(
      () => module.C_GetAttributeValue(session, handle, [{ type: ck.CKA_VALUE }]),
      /CKR_ATTRIBUTE_SENSITIVE/,
    );
    module.C_CloseSession(session);
  });

  it("the token's CKM_AES_KEY_WRAP output is RFC 3394, byte for byte what the file key store computes", async () => {
    await open();
    const { module, session } = rawSession();
    const kekBytes = randomBytes(32);
    const dek = randomBytes(32);
    const secret = (value: Buffer, extra: Array<{ type: number; value: boolean }>) =>
      module.C_CreateObject(session, [
        { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
        { type: ck.CKA_KEY_TYPE, value: ck.CKK_AES },
        { type: ck.CKA_TOKEN, value: false },
        { type: ck.CKA_VALUE, value },
        ...extra,
      ]);
    const kek = secret(kekBytes, [{ type: ck.CKA_WRAP, value: true }]);
    const data = secret(dek, [
      { type: ck.CKA_EXTRACTABLE, value: true },
      { type: ck.CKA_SENSITIVE, value: false },
    ]);
    const inToken = module.C_WrapKey(
      session,
      { mechanism: ck.CKM_AES_KEY_WRAP },
      kek,
      data,
      Buffer.alloc(64),
    );
    assert.deepEqual(Buffer.from(inToken), aesKeyWrap(createSecretKey(kekBytes), dek));
    module.C_CloseSession(session);
  });

  it('wraps and unwraps data keys; a modified wrapped key is ERR_VAULT_TAMPERED, an unknown KEK id ERR_VAULT_KEY_UNKNOWN', async () => {
    const store = await open();
    assert.match(store.currentKeyId, /^p11-[0-9a-f]{32}$/);
    const dek = randomBytes(32);
    const { kekId, wrapped } = await store.wrap(dek);
    assert.equal(kekId, store.currentKeyId);
    assert.equal(wrapped.length, 40);
    assert.deepEqual(Buffer.from(await store.unwrap(kekId, wrapped)), dek);
    const bad = Buffer.from(wrapped);
    bad[5]! ^= 0x01;
    await assert.rejects(store.unwrap(kekId, bad), { code: 'ERR_VAULT_TAMPERED' });
    await assert.rejects(store.unwrap(kekId, bad.subarray(0, 12)), { code: 'ERR_VAULT_TAMPERED' });
    await assert.rejects(store.unwrap('p11-00ff', wrapped), { code: 'ERR_VAULT_KEY_UNKNOWN' });
    await assert.rejects(store.unwrap('kek-from-a-file', wrapped), { code: 'ERR_VAULT_KEY_UNKNOWN' });
  });

  it('attack: a KEK of another label family is unknown, even on the same token', async () => {
    const a = await open();
    const b = await open();
    const { kekId, wrapped } = await a.wrap(randomBytes(32));
    await assert.rejects(b.unwrap(kekId, wrapped), { code: 'ERR_VAULT_KEY_UNKNOWN' });
  });

  it('rotation generates a newer KEK in the token that becomes current; an instance opening later selects it; retire destroys the old one', async () => {
    const store = await open();
    const old = store.currentKeyId;
    const { wrapped } = await store.wrap(Buffer.alloc(32, 3));
    const fresh = await store.rotate();
    assert.ok(fresh > old, 'ids sort by creation time');
    const later = await open({ keyLabel: store.keyLabel, generateIfMissing: false });
    assert.equal(later.currentKeyId, fresh);
    assert.deepEqual(Buffer.from(await later.unwrap(old, wrapped)), Buffer.alloc(32, 3));
    await assert.rejects(store.retire(fresh), { code: 'ERR_VAULT_KEY_IN_USE' });
    await store.retire(old);
    await assert.rejects(store.unwrap(old, wrapped), { code: 'ERR_VAULT_KEY_UNKNOWN' });
    const count = listSecretKeys(hsm, main)
      .split('\n')
      .filter((line) => line.includes(store.keyLabel)).length;
    assert.equal(count, 1, 'the retired KEK was destroyed in the token');
  });

  it('another instance of the same KEK family seals under its rotation: after rotate, rewrap and retire elsewhere, nothing is lost', async () => {
    const a = await open();
    const b = await open({ keyLabel: a.keyLabel, generateIfMissing: false });
    const records = new MemoryVaultStore();
    const vaultA = createVault({ keyStore: a, store: records });
    const vaultB = createVault({ keyStore: b, store: records });
    const old = a.currentKeyId;
    await vaultA.put({ namespace: 't', key: 'before' }, 'sealed-before-rotation', { ttlSeconds: 60 });
    // All within A's re-selection interval: only the gone KEK handle tells A about the rotation.
    const fresh = await vaultB.rotateKeyEncryptionKey();
    const report = await vaultB.rewrapAll();
    assert.equal(report.rewrapped, 1);
    await b.retire(old);
    await vaultA.put({ namespace: 't', key: 'after' }, 'sealed-after-rotation', { ttlSeconds: 60 });
    assert.equal(a.currentKeyId, fresh);
    assert.equal(await vaultB.get({ namespace: 't', key: 'after' }), 'sealed-after-rotation');
    assert.equal(await vaultB.get({ namespace: 't', key: 'before' }), 'sealed-before-rotation');
  });

  it('picks up a rotation made by another instance: on meeting the newer KEK, and within a second for wrap', async () => {
    const a = await open();
    const b = await open({ keyLabel: a.keyLabel, generateIfMissing: false });
    const fresh = await b.rotate();
    const { wrapped } = await b.wrap(Buffer.alloc(32, 5));
    assert.deepEqual(Buffer.from(await a.unwrap(fresh, wrapped)), Buffer.alloc(32, 5));
    assert.equal(a.currentKeyId, fresh, 'a newer KEK met on unwrap becomes current');
    assert.equal((await a.wrap(Buffer.alloc(32, 6))).kekId, fresh);

    const newer = await b.rotate();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await a.wrap(Buffer.alloc(32, 7))).kekId, newer, 'wrap re-selected the current KEK');
  });

  it('rewrapAll on an instance that did not rotate re-wraps under the rotation another instance made', async () => {
    const a = await open();
    const b = await open({ keyLabel: a.keyLabel, generateIfMissing: false });
    const records = new MemoryVaultStore();
    const vaultA = createVault({ keyStore: a, store: records });
    const old = a.currentKeyId;
    await vaultA.put({ namespace: 't', key: 'one' }, 'value-one', { ttlSeconds: 60 });
    const fresh = await b.rotate();
    const report = await vaultA.rewrapAll();
    assert.equal(report.rewrapped, 1);
    assert.equal(a.currentKeyId, fresh);
    await b.retire(old);
    assert.equal(
      await createVault({ keyStore: b, store: records }).get({ namespace: 't', key: 'one' }),
      'value-one',
    );
  });

  it('selects the token by slot id as well as by label', async () => {
    await open();
    const { module, session, slot } = rawSession();
    module.C_CloseSession(session);
    const store = await open({ tokenLabel: undefined, slot: Number(slot.readBigUInt64LE(0)) });
    assert.equal(store.tokenLabel, main.tokenLabel);
  });

  it('key store unavailable: a wrong PIN fails closed with ERR_VAULT_KEY_UNAVAILABLE (CKR_PIN_INCORRECT)', async () => {
    const token = hsm.tokens['fresh-login']!;
    await refused(
      Pkcs11KeyStore.open(base({ tokenLabel: token.tokenLabel, pin: `${token.pin}-wrong` })),
      /login to token .* failed \(CKR_PIN_INCORRECT\)/,
    );
  });

  it('key store unavailable: a wrong PIN is refused even while the token is already logged in by this process', async () => {
    await open();
    await refused(Pkcs11KeyStore.open(base({ pin: 'not-the-pin' })), /PIN differs/);
  });

  it('key store unavailable: a missing key label fails closed with ERR_VAULT_KEY_UNAVAILABLE', async () => {
    await refused(
      Pkcs11KeyStore.open(base({ keyLabel: 'no-such-kek', generateIfMissing: false })),
      /holds no AES key labelled "no-such-kek"/,
    );
  });

  it('key store unavailable: a missing token, slot or library fails closed with ERR_VAULT_KEY_UNAVAILABLE', async () => {
    await refused(Pkcs11KeyStore.open(base({ tokenLabel: 'no-such-token' })), /no PKCS#11 token labelled/);
    await refused(
      Pkcs11KeyStore.open(base({ tokenLabel: undefined, slot: 987654321 })),
      /slot 987654321 has no token/,
    );
    await refused(
      Pkcs11KeyStore.open(base({ library: '/nonexistent/libpkcs11.so' })),
      /library \/nonexistent\/libpkcs11.so does not exist/,
    );
    const notALibrary = join(hsm.dir, 'not-a-library.so');
    writeFileSync(notALibrary, 'not an ELF file');
    await refused(Pkcs11KeyStore.open(base({ library: notALibrary })), /cannot be loaded/);
  });

  it('key store unavailable: two tokens with the same label are ambiguous, not a guess', async () => {
    const token = hsm.tokens['dup-1']!;
    await refused(
      Pkcs11KeyStore.open(base({ tokenLabel: sharedLabel, pin: token.pin })),
      /2 PKCS#11 tokens are labelled .*; select one by slot/,
    );
  });

  it('attack: an extractable AES key planted under the KEK label is refused, not used', async () => {
    await open();
    const { module, session } = rawSession();
    const label = `planted-${randomUUID()}`;
    module.C_GenerateKey(session, { mechanism: ck.CKM_AES_KEY_GEN }, [
      { type: ck.CKA_CLASS, value: ck.CKO_SECRET_KEY },
      { type: ck.CKA_KEY_TYPE, value: ck.CKK_AES },
      { type: ck.CKA_VALUE_LEN, value: 32 },
      { type: ck.CKA_TOKEN, value: true },
      { type: ck.CKA_LABEL, value: label },
      { type: ck.CKA_ID, value: Buffer.from('ff', 'hex') },
      { type: ck.CKA_SENSITIVE, value: false },
      { type: ck.CKA_EXTRACTABLE, value: true },
      { type: ck.CKA_WRAP, value: true },
      { type: ck.CKA_UNWRAP, value: true },
    ]);
    module.C_CloseSession(session);
    await refused(
      Pkcs11KeyStore.open(base({ keyLabel: label, generateIfMissing: false })),
      /extractable or not sensitive/,
    );
  });

  it('fails closed: once the key store is closed, put stores nothing and get refuses', async () => {
    const store = await Pkcs11KeyStore.open(base());
    const records = new MemoryVaultStore();
    const vault = createVault({ keyStore: store, store: records });
    const id = { namespace: 'obo', key: 'user-alice|agent-1' };
    await vault.put(id, 'sealed-while-open', { ttlSeconds: 60 });
    await store.close();
    await refused(
      vault.put({ namespace: 'obo', key: 'later' }, 'never-stored', { ttlSeconds: 60 }),
      /is closed/,
    );
    assert.equal(records.size, 1, 'nothing was written, not even in plaintext');
    await refused(vault.get(id), /is closed/);
  });

  it('misuse at construction is a TypeError', async () => {
    await assert.rejects(Pkcs11KeyStore.open(base({ slot: 1 })), TypeError, 'both slot and tokenLabel');
    await assert.rejects(Pkcs11KeyStore.open(base({ tokenLabel: undefined })), TypeError, 'neither');
    await assert.rejects(Pkcs11KeyStore.open(base({ pin: '' })), TypeError);
    await assert.rejects(Pkcs11KeyStore.open(base({ keyLabel: '' })), TypeError);
  });
});
