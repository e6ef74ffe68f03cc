import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  createVault,
  type EntryId,
  FileKeyStore,
  type KeyStore,
  MemoryVaultStore,
  Pkcs11KeyStore,
  VaultError,
} from '../src/index.ts';
import { createSoftHsm } from './helpers/softhsm.ts';

const hsm = createSoftHsm(['secrets']);
const token = hsm.tokens.secrets!;
const dir = mkdtempSync(join(tmpdir(), 'baton-vault-secrets-'));
const closing: Pkcs11KeyStore[] = [];
after(async () => {
  for (const store of closing) await store.close();
  rmSync(dir, { recursive: true, force: true });
  hsm.cleanup();
});

const PLAINTEXT = `tok-SECRET-${randomUUID()}`;

/** Every way a secret could be spelled in text. */
function spellings(secret: Uint8Array | string): string[] {
  const bytes = Buffer.from(secret);
  return [
    bytes.toString('hex'),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    ...(typeof secret === 'string' ? [secret] : []),
  ];
}

/** A real key store, recording the data keys that pass through it so the test knows what to look for. */
function recording(inner: KeyStore, deks: Uint8Array[]): KeyStore {
  return {
    get currentKeyId() {
      return inner.currentKeyId;
    },
    async wrap(dek) {
      deks.push(Buffer.from(dek));
      return inner.wrap(dek);
    },
    async unwrap(kekId, wrapped) {
      const dek = await inner.unwrap(kekId, wrapped);
      deks.push(Buffer.from(dek));
      return dek;
    },
  };
}

/** Everything an error could show an operator: message, stack, cause chain, and util.inspect of it all. */
function allText(error: unknown): string {
  const parts = [inspect(error, { depth: 8, showHidden: true })];
  for (let e: unknown = error; e instanceof Error; e = e.cause)
    parts.push(e.message, e.stack ?? '', JSON.stringify(e));
  return parts.join('\n');
}

/** Runs the attacks that make the vault refuse, returning each refusal. */
async function refusals(keyStore: KeyStore): Promise<unknown[]> {
  const store = new MemoryVaultStore();
  const vault = createVault({ keyStore, store });
  const errors: unknown[] = [];
  const capture = (promise: Promise<unknown>) =>
    promise.then(
      () => assert.fail('expected a refusal'),
      (error: unknown) => errors.push(error),
    );
  const a: EntryId = { namespace: 'obo', key: `a-${randomUUID()}` };
  const b: EntryId = { namespace: 'obo', key: `b-${randomUUID()}` };
  const raw = async (id: EntryId) => JSON.parse((await store.get(`obo:${id.key}`))!);
  const write = (id: EntryId, record: unknown) =>
    store.put(`obo:${id.key}`, JSON.stringify(record), Date.now() + 60_000);

  await vault.put(a, PLAINTEXT, { ttlSeconds: 60 });
  await vault.put(b, PLAINTEXT, { ttlSeconds: 60 });
  const original = await raw(a);
  await write(b, original); // swap
  await capture(vault.get(b));
  for (const field of ['ct', 'tag', 'iv', 'wdek'] as const) {
    const bytes = Buffer.from(original[field], 'base64url');
    bytes[0]! ^= 1;
    await write(a, { ...original, [field]: bytes.toString('base64url') });
    await capture(vault.get(a));
  }
  await write(a, { ...original, id: `obo:${b.key}` });
  await capture(vault.get(a));
  await write(a, { ...original, kek: 'kek-unknown' });
  await capture(vault.get(a));
  await write(a, { ...original, v: 9 });
  await capture(vault.get(a));
  return errors;
}

describe('nothing secret in errors', () => {
  it('refusals with the file key store name no plaintext, data key or KEK', async () => {
    const path = join(dir, 'keys.json');
    const deks: Uint8Array[] = [];
    const errors = await refusals(recording(await FileKeyStore.open({ path }), deks));
    const kek = JSON.parse(readFileSync(path, 'utf8')).keys[0].key as string;
    const secrets = [PLAINTEXT, ...deks.flatMap(spellings), ...spellings(Buffer.from(kek, 'base64url'))];
    assert.ok(errors.length >= 8 && deks.length >= 2);
    for (const error of errors) {
      assert.ok(error instanceof VaultError);
      const text = allText(error);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${error.code} leaks a secret`);
    }
  });

  it('refusals with the PKCS#11 key store name no plaintext, data key or PIN', async () => {
    const store = await Pkcs11KeyStore.open({
      library: hsm.library,
      tokenLabel: token.tokenLabel,
      pin: token.pin,
      keyLabel: 'kek-secrets',
      generateIfMissing: true,
    });
    closing.push(store);
    const deks: Uint8Array[] = [];
    const errors = await refusals(recording(store, deks));
    const wrongPin = await Pkcs11KeyStore.open({
      library: hsm.library,
      tokenLabel: token.tokenLabel,
      pin: `${token.pin}-x`,
      keyLabel: 'kek-secrets',
    }).catch((error: unknown) => error);
    errors.push(wrongPin);
    const secrets = [PLAINTEXT, token.pin, token.soPin, ...deks.flatMap(spellings)];
    for (const error of errors) {
      assert.ok(error instanceof VaultError);
      const text = allText(error);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${error.code} leaks a secret`);
    }
  });

  it('key-file refusals do not quote the key file', async () => {
    const path = join(dir, 'open-keys.json');
    await FileKeyStore.open({ path });
    chmodSync(path, 0o644);
    const kek = JSON.parse(readFileSync(path, 'utf8')).keys[0].key as string;
    const error = await FileKeyStore.open({ path }).catch((e: unknown) => e);
    assert.equal((error as VaultError).code, 'ERR_VAULT_KEY_UNAVAILABLE');
    for (const secret of spellings(Buffer.from(kek, 'base64url')))
      assert.ok(!allText(error).includes(secret));
  });

  it('a key store and a vault print no key material when inspected or serialised', async () => {
    const path = join(dir, 'inspect-keys.json');
    const keyStore = await FileKeyStore.open({ path });
    const kek = JSON.parse(readFileSync(path, 'utf8')).keys[0].key as string;
    const vault = createVault({ keyStore });
    const text = [
      inspect(keyStore, { showHidden: true, depth: 8 }),
      JSON.stringify(keyStore),
      inspect(vault, { depth: 8 }),
    ].join('\n');
    for (const secret of spellings(Buffer.from(kek, 'base64url'))) assert.ok(!text.includes(secret));
  });
});
