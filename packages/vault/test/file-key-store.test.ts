import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createVault, FileKeyStore, MemoryVaultStore, VaultError } from '../src/index.ts';
import { aesKeyUnwrap, aesKeyWrap } from '../src/key-stores/aes-key-wrap.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-vault-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(root, `case-${files++}`, 'keys.json');

/** A valid key file written by hand, with the given mode. */
function writeKeyFile(
  path: string,
  mode: number,
  keys = [{ id: 'kek-hand', key: randomBytes(32) }],
): string[] {
  mkdirSync(join(path, '..'), { recursive: true });
  const encoded = keys.map((entry) => ({
    id: entry.id,
    key: entry.key.toString('base64url'),
    createdAt: '',
  }));
  writeFileSync(path, JSON.stringify({ format: 'baton-vault-keys/v1', keys: encoded }), { mode });
  chmodSync(path, mode);
  return encoded.map((entry) => entry.key);
}

/** Error text as an operator would see it: message, stack and causes. */
const everythingSaid = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message, e.stack ?? '');
  return parts.join('\n');
};

describe('FileKeyStore', () => {
  it('creates a missing key file with mode 0600 (directory 0700) holding one 32-byte KEK', async () => {
    const path = freshPath();
    const store = await FileKeyStore.open({ path });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(doc.format, 'baton-vault-keys/v1');
    assert.equal(doc.keys.length, 1);
    assert.equal(doc.keys[0].id, store.currentKeyId);
    assert.equal(Buffer.from(doc.keys[0].key, 'base64url').length, 32);
  });

  it('reopening the file gives the same KEK: entries survive a restart', async () => {
    const path = freshPath();
    const first = await FileKeyStore.open({ path });
    const { kekId, wrapped } = await first.wrap(Buffer.alloc(32, 7));
    const second = await FileKeyStore.open({ path, createIfMissing: false });
    assert.equal(second.currentKeyId, kekId);
    assert.deepEqual(Buffer.from(await second.unwrap(kekId, wrapped)), Buffer.alloc(32, 7));
  });

  for (const mode of [0o640, 0o604, 0o644, 0o660, 0o620, 0o602]) {
    it(`attack: a key file with mode ${mode.toString(8).padStart(4, '0')} (group/others can read or write) is refused with ERR_VAULT_KEY_UNAVAILABLE`, async () => {
      const path = freshPath();
      const [key] = writeKeyFile(path, mode);
      const error = await FileKeyStore.open({ path }).catch((e: unknown) => e);
      assert.ok(error instanceof VaultError);
      assert.equal(error.code, 'ERR_VAULT_KEY_UNAVAILABLE');
      assert.match(error.message, /must not be readable or writable by group or others/);
      assert.match(error.message, /chmod 600/);
      assert.ok(!everythingSaid(error).includes(key!));
    });
  }

  it('a hand-written key file with mode 0600 or 0400 is accepted; the first key is current', async () => {
    for (const mode of [0o600, 0o400]) {
      const path = freshPath();
      writeKeyFile(path, mode, [
        { id: 'kek-b', key: randomBytes(32) },
        { id: 'kek-a', key: randomBytes(32) },
      ]);
      const store = await FileKeyStore.open({ path, createIfMissing: false });
      assert.equal(store.currentKeyId, 'kek-b');
      assert.deepEqual(store.keyIds, ['kek-b', 'kek-a']);
    }
  });

  it('a missing key file with createIfMissing: false fails closed with ERR_VAULT_KEY_UNAVAILABLE and creates nothing', async () => {
    const path = freshPath();
    await assert.rejects(FileKeyStore.open({ path, createIfMissing: false }), (error: unknown) => {
      assert.ok(error instanceof VaultError);
      assert.equal(error.code, 'ERR_VAULT_KEY_UNAVAILABLE');
      assert.match(error.message, /does not exist and createIfMissing is false/);
      return true;
    });
    assert.equal(existsSync(path), false);
  });

  it('an invalid key file is refused without quoting its content', async () => {
    const cases: Array<[string, string]> = [
      ['not json', 'SECRET-NOT-JSON-CONTENT'],
      ['wrong format', JSON.stringify({ format: 'other', keys: [] })],
      [
        'short key',
        JSON.stringify({ format: 'baton-vault-keys/v1', keys: [{ id: 'k', key: 'U0hPUlQtU0VDUkVU' }] }),
      ],
      [
        'duplicate id',
        JSON.stringify({
          format: 'baton-vault-keys/v1',
          keys: [
            { id: 'k', key: randomBytes(32).toString('base64url') },
            { id: 'k', key: randomBytes(32).toString('base64url') },
          ],
        }),
      ],
    ];
    for (const [label, content] of cases) {
      const path = freshPath();
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content, { mode: 0o600 });
      const error = await FileKeyStore.open({ path }).catch((e: unknown) => e);
      assert.ok(error instanceof VaultError, label);
      assert.equal(error.code, 'ERR_VAULT_KEY_UNAVAILABLE', label);
      assert.match(error.message, /not a valid vault key file/, label);
      assert.ok(!error.message.includes('SECRET') && !error.message.includes('U0hPUlQt'), label);
    }
  });

  it('a directory where the key file should be is refused', async () => {
    const path = freshPath();
    mkdirSync(path, { recursive: true, mode: 0o700 });
    await assert.rejects(FileKeyStore.open({ path }), { code: 'ERR_VAULT_KEY_UNAVAILABLE' });
  });

  it('misuse at construction is a TypeError', async () => {
    await assert.rejects(FileKeyStore.open({} as { path: string }), TypeError);
    await assert.rejects(
      FileKeyStore.open({ path: freshPath(), createIfMissing: 'yes' as unknown as boolean }),
      TypeError,
    );
    assert.throws(() => createVault({} as never), TypeError);
    assert.throws(() => createVault({ keyStore: { wrap() {} } } as never), TypeError);
  });

  it('wraps with RFC 3394 AES key wrap (the §4.6 test vector: 256-bit key data, 256-bit KEK)', () => {
    const kek = createSecretKey(
      Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex'),
    );
    const data = Buffer.from('00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f', 'hex');
    const expected = '28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21';
    assert.equal(aesKeyWrap(kek, data).toString('hex'), expected);
    assert.deepEqual(aesKeyUnwrap(kek, Buffer.from(expected, 'hex')), data);
  });

  it('attack: a modified wrapped key fails the key wrap integrity check with ERR_VAULT_TAMPERED; an unknown KEK id is ERR_VAULT_KEY_UNKNOWN', async () => {
    const store = await FileKeyStore.open({ path: freshPath() });
    const { kekId, wrapped } = await store.wrap(randomBytes(32));
    const bad = Buffer.from(wrapped);
    bad[17]! ^= 0x80;
    await assert.rejects(store.unwrap(kekId, bad), { code: 'ERR_VAULT_TAMPERED' });
    await assert.rejects(store.unwrap(kekId, bad.subarray(0, 20)), { code: 'ERR_VAULT_TAMPERED' });
    await assert.rejects(store.unwrap('kek-nope', wrapped), { code: 'ERR_VAULT_KEY_UNKNOWN' });
  });

  it('rotation prepends a new current KEK in the file and keeps the old one; the file stays 0600', async () => {
    const path = freshPath();
    const store = await FileKeyStore.open({ path });
    const old = store.currentKeyId;
    const { wrapped } = await store.wrap(Buffer.alloc(32, 1));
    const fresh = await store.rotate();
    assert.notEqual(fresh, old);
    assert.deepEqual(store.keyIds, [fresh, old]);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const reopened = await FileKeyStore.open({ path, createIfMissing: false });
    assert.deepEqual(reopened.keyIds, [fresh, old]);
    assert.deepEqual(Buffer.from(await reopened.unwrap(old, wrapped)), Buffer.alloc(32, 1));
  });

  it('another process sharing the file picks up a rotation when it meets the new KEK id', async () => {
    const path = freshPath();
    const a = await FileKeyStore.open({ path });
    const b = await FileKeyStore.open({ path });
    await a.rotate();
    const { kekId, wrapped } = await a.wrap(Buffer.alloc(32, 2));
    assert.notEqual(b.currentKeyId, kekId);
    assert.deepEqual(Buffer.from(await b.unwrap(kekId, wrapped)), Buffer.alloc(32, 2));
    assert.equal(b.currentKeyId, kekId, 'b reloaded the file');
  });

  it('another process sharing the file seals new entries under its rotation, so retiring the old KEK loses nothing', async () => {
    const path = freshPath();
    const records = new MemoryVaultStore();
    const a = await FileKeyStore.open({ path });
    const b = await FileKeyStore.open({ path });
    const vaultA = createVault({ keyStore: a, store: records });
    const vaultB = createVault({ keyStore: b, store: records });
    const old = a.currentKeyId;
    await vaultA.put({ namespace: 't', key: 'before' }, 'sealed-before-rotation', { ttlSeconds: 60 });
    // B rotates, re-wraps everything and retires the old KEK, all within A's reload interval.
    const fresh = await vaultB.rotateKeyEncryptionKey();
    const report = await vaultB.rewrapAll();
    assert.equal(report.rewrapped, 1);
    assert.deepEqual(report.failed, []);
    await b.retire(old);
    // A's very next put is sealed under B's new KEK, and B (which no longer holds the old one) reads it.
    await vaultA.put({ namespace: 't', key: 'after' }, 'sealed-after-rotation', { ttlSeconds: 60 });
    assert.equal(a.currentKeyId, fresh);
    assert.equal(await vaultB.get({ namespace: 't', key: 'after' }), 'sealed-after-rotation');
    assert.equal(await vaultB.get({ namespace: 't', key: 'before' }), 'sealed-before-rotation');
    assert.equal(await vaultA.get({ namespace: 't', key: 'before' }), 'sealed-before-rotation');
    const reopened = createVault({ keyStore: await FileKeyStore.open({ path }), store: records });
    assert.equal(await reopened.get({ namespace: 't', key: 'after' }), 'sealed-after-rotation');
  });

  it('rewrapAll on a process that did not rotate re-wraps under the rotation another process made', async () => {
    const path = freshPath();
    const records = new MemoryVaultStore();
    const a = await FileKeyStore.open({ path });
    const b = await FileKeyStore.open({ path });
    const vaultA = createVault({ keyStore: a, store: records });
    const old = a.currentKeyId;
    await vaultA.put({ namespace: 't', key: 'one' }, 'value-one', { ttlSeconds: 60 });
    const fresh = await b.rotate();
    const report = await vaultA.rewrapAll();
    assert.equal(
      report.rewrapped,
      1,
      'A re-wrapped under the new KEK instead of calling its old one current',
    );
    assert.equal(a.currentKeyId, fresh);
    await b.retire(old);
    const vaultB = createVault({ keyStore: b, store: records });
    assert.equal(await vaultB.get({ namespace: 't', key: 'one' }), 'value-one');
  });

  it('concurrent rotations from several instances lose no KEK (the lock serialises them)', async () => {
    const path = freshPath();
    const instances = await Promise.all([1, 2, 3].map(() => FileKeyStore.open({ path })));
    const original = instances[0]!.currentKeyId;
    const minted = await Promise.all(instances.flatMap((store) => [store.rotate(), store.rotate()]));
    const final = await FileKeyStore.open({ path });
    assert.equal(final.keyIds.length, 7);
    for (const id of [...minted, original]) assert.ok(final.keyIds.includes(id), id);
  });

  it('a rotation lock left behind fails closed with ERR_VAULT_KEY_UNAVAILABLE naming the lock file', async () => {
    const path = freshPath();
    const store = await FileKeyStore.open({ path, lockWaitMs: 100 });
    writeFileSync(`${path}.lock`, '', { mode: 0o600 });
    await assert.rejects(store.rotate(), (error: unknown) => {
      assert.ok(error instanceof VaultError && error.code === 'ERR_VAULT_KEY_UNAVAILABLE');
      assert.ok(error.message.includes(`${path}.lock`));
      return true;
    });
  });

  it('retire removes an old KEK from the file, refuses the current one and unknown ids', async () => {
    const path = freshPath();
    const store = await FileKeyStore.open({ path });
    const old = store.currentKeyId;
    const current = await store.rotate();
    await assert.rejects(store.retire(current), { code: 'ERR_VAULT_KEY_IN_USE' });
    await assert.rejects(store.retire('kek-nope'), { code: 'ERR_VAULT_KEY_UNKNOWN' });
    await store.retire(old);
    assert.deepEqual(store.keyIds, [current]);
    assert.deepEqual((await FileKeyStore.open({ path })).keyIds, [current]);
  });
});
