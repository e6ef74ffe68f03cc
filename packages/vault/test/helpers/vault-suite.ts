import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createVault, type EntryId, type KeyStore, type Vault, type VaultStore } from '../../src/index.ts';

/** A key store that can rotate and retire: both FileKeyStore and Pkcs11KeyStore. */
export type RotatingKeyStore = KeyStore & Required<Pick<KeyStore, 'rotate' | 'retire'>>;

export interface VaultFixture {
  readonly store: VaultStore;
  readonly keyStore: RotatingKeyStore;
}

/** A clock tests can move; the vault and the stores that accept one share it. */
export class TestClock {
  ms = Date.now();
  readonly now = () => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

const entry = (label: string): EntryId => ({
  namespace: 'obo',
  key: `user-alice|agent-1|https://api.example|orders:read|${label}|${randomUUID()}`,
});
const canonical = (id: EntryId) => `${id.namespace}:${id.key}`;

/** Edits the stored JSON record of `id` in place, as an attacker with write access to the store would. */
async function editRecord(store: VaultStore, id: EntryId, edit: (fields: Record<string, unknown>) => void) {
  const raw = await store.get(canonical(id));
  assert.ok(raw !== undefined, 'record present');
  const fields = JSON.parse(raw) as Record<string, unknown>;
  edit(fields);
  await store.put(canonical(id), JSON.stringify(fields), Date.now() + 3_600_000);
}

/** Flips one bit of a base64url byte field, keeping it valid base64url so only authentication can catch it. */
function flipBit(value: unknown, byte = 0): string {
  const bytes = Buffer.from(value as string, 'base64url');
  bytes[byte % bytes.length]! ^= 0x01;
  return bytes.toString('base64url');
}

/**
 * Vault behaviour over one store × key store pair: round trips, the record format, every tamper and
 * swap attack, expiry and KEK rotation. `make` builds a fresh store and key store for each test.
 */
export function vaultSuite(name: string, make: (clock: TestClock) => Promise<VaultFixture>): void {
  describe(`${name}: vault`, () => {
    async function setup(): Promise<VaultFixture & { vault: Vault; clock: TestClock }> {
      const clock = new TestClock();
      const fixture = await make(clock);
      return { ...fixture, clock, vault: createVault({ ...fixture, now: clock.now }) };
    }

    it('round trip: a string comes back as the same string, bytes as the same bytes', async () => {
      const { vault } = await setup();
      const text = entry('text');
      const bytes = entry('bytes');
      const empty = entry('empty');
      await vault.put(text, 'eyJhbGciOiJFUzI1NiJ9.ünïcødé-😀', { ttlSeconds: 60 });
      await vault.put(bytes, new Uint8Array([0, 1, 2, 255]), { ttlSeconds: 60 });
      await vault.put(empty, '', { ttlSeconds: 60 });
      assert.equal(await vault.get(text), 'eyJhbGciOiJFUzI1NiJ9.ünïcødé-😀');
      assert.deepEqual(await vault.get(bytes), new Uint8Array([0, 1, 2, 255]));
      assert.equal(await vault.get(empty), '');
      assert.equal(await vault.get(entry('never-put')), undefined);
    });

    it('put replaces the entry; delete removes it', async () => {
      const { vault } = await setup();
      const id = entry('replace');
      await vault.put(id, 'first', { ttlSeconds: 60 });
      await vault.put(id, 'second', { ttlSeconds: 60 });
      assert.equal(await vault.get(id), 'second');
      assert.equal(await vault.delete(id), true);
      assert.equal(await vault.get(id), undefined);
      assert.equal(await vault.delete(id), false);
    });

    it('the stored record holds version, KEK id, wrapped DEK, nonce, ciphertext, tag and expiry, and no plaintext', async () => {
      const { vault, store, keyStore, clock } = await setup();
      const id = entry('format');
      await vault.put(id, 'token-plaintext-marker', { ttlSeconds: 90 });
      const raw = (await store.get(canonical(id)))!;
      assert.ok(!raw.includes('token-plaintext-marker'));
      assert.ok(!raw.includes(Buffer.from('token-plaintext-marker').toString('base64url')));
      const record = JSON.parse(raw);
      assert.deepEqual(Object.keys(record).sort(), [
        'ct',
        'enc',
        'exp',
        'id',
        'iv',
        'kek',
        'tag',
        'v',
        'wdek',
      ]);
      assert.equal(record.v, 1);
      assert.equal(record.id, canonical(id));
      assert.equal(record.exp, clock.ms + 90_000);
      assert.equal(record.kek, keyStore.currentKeyId);
      assert.equal(Buffer.from(record.iv, 'base64url').length, 12);
      assert.equal(Buffer.from(record.tag, 'base64url').length, 16);
      assert.equal(Buffer.from(record.wdek, 'base64url').length, 40, 'AES key wrap of a 32-byte key');
      assert.equal(Buffer.from(record.ct, 'base64url').length, 'token-plaintext-marker'.length);
    });

    it('every put draws a fresh data key and nonce', async () => {
      const { vault, store } = await setup();
      const id = entry('fresh');
      const seen = { iv: new Set<string>(), wdek: new Set<string>(), ct: new Set<string>() };
      for (let i = 0; i < 5; i++) {
        await vault.put(id, 'same plaintext', { ttlSeconds: 60 });
        const record = JSON.parse((await store.get(canonical(id)))!);
        seen.iv.add(record.iv);
        seen.wdek.add(record.wdek);
        seen.ct.add(record.ct);
      }
      assert.deepEqual([seen.iv.size, seen.wdek.size, seen.ct.size], [5, 5, 5]);
    });

    for (const field of ['ct', 'tag', 'iv', 'wdek'] as const) {
      it(`attack: a flipped bit in the stored ${field} is refused with ERR_VAULT_TAMPERED`, async () => {
        const { vault, store } = await setup();
        const id = entry(`flip-${field}`);
        await vault.put(id, 'secret-token', { ttlSeconds: 60 });
        await editRecord(store, id, (fields) => {
          fields[field] = flipBit(fields[field], 3);
        });
        await assert.rejects(vault.get(id), { name: 'VaultError', code: 'ERR_VAULT_TAMPERED' });
      });
    }

    it('attack: a flipped bit in the stored entry id is refused with ERR_VAULT_TAMPERED', async () => {
      const { vault, store } = await setup();
      const id = entry('flip-id');
      await vault.put(id, 'secret-token', { ttlSeconds: 60 });
      await editRecord(store, id, (fields) => {
        const text = fields.id as string;
        fields.id = text.slice(0, -1) + String.fromCharCode(text.charCodeAt(text.length - 1) ^ 0x01);
      });
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_TAMPERED' });
    });

    it('attack: extending the stored expiry is refused with ERR_VAULT_TAMPERED', async () => {
      const { vault, store } = await setup();
      const id = entry('extend');
      await vault.put(id, 'secret-token', { ttlSeconds: 60 });
      await editRecord(store, id, (fields) => {
        fields.exp = (fields.exp as number) + 86_400_000;
      });
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_TAMPERED' });
    });

    it('attack: switching the stored encoding is refused with ERR_VAULT_TAMPERED', async () => {
      const { vault, store } = await setup();
      const id = entry('encoding');
      await vault.put(id, 'secret-token', { ttlSeconds: 60 });
      await editRecord(store, id, (fields) => {
        fields.enc = 'bytes';
      });
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_TAMPERED' });
    });

    it('attack: pointing the record at another KEK id is refused with ERR_VAULT_KEY_UNKNOWN', async () => {
      const { vault, store } = await setup();
      const id = entry('kek-id');
      await vault.put(id, 'secret-token', { ttlSeconds: 60 });
      await editRecord(store, id, (fields) => {
        fields.kek = 'kek-attacker';
      });
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_KEY_UNKNOWN' });
    });

    it('attack: a truncated tag or a record that is not a vault record is refused as malformed', async () => {
      const { vault, store } = await setup();
      const id = entry('truncate');
      await vault.put(id, 'secret-token', { ttlSeconds: 60 });
      await editRecord(store, id, (fields) => {
        fields.tag = Buffer.from(fields.tag as string, 'base64url')
          .subarray(0, 4)
          .toString('base64url');
      });
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_RECORD_MALFORMED' });
      await store.put(canonical(id), 'plaintext-token-instead-of-a-record', Date.now() + 60_000);
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_RECORD_MALFORMED' });
      await store.put(canonical(id), JSON.stringify({ v: 2 }), Date.now() + 60_000);
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_RECORD_UNSUPPORTED' });
    });

    it("attack: entry A's record copied under entry B is refused with ERR_VAULT_WRONG_ENTRY", async () => {
      const { vault, store } = await setup();
      const a = entry('swap-a');
      const b = entry('swap-b');
      await vault.put(a, 'token-of-a', { ttlSeconds: 60 });
      await vault.put(b, 'token-of-b', { ttlSeconds: 60 });
      await store.put(canonical(b), (await store.get(canonical(a)))!, Date.now() + 60_000);
      await assert.rejects(vault.get(b), { name: 'VaultError', code: 'ERR_VAULT_WRONG_ENTRY' });
      assert.equal(await vault.get(a), 'token-of-a', 'the original is untouched');
    });

    it("attack: A's record copied under B with its entry id rewritten to B is refused with ERR_VAULT_TAMPERED", async () => {
      const { vault, store } = await setup();
      const a = entry('swap-rewrite-a');
      const b = entry('swap-rewrite-b');
      await vault.put(a, 'token-of-a', { ttlSeconds: 60 });
      const fields = JSON.parse((await store.get(canonical(a)))!);
      fields.id = canonical(b);
      await store.put(canonical(b), JSON.stringify(fields), Date.now() + 60_000);
      await assert.rejects(vault.get(b), { code: 'ERR_VAULT_TAMPERED' });
    });

    it('attack: exchanging the wrapped data keys of two entries is refused with ERR_VAULT_TAMPERED', async () => {
      const { vault, store } = await setup();
      const a = entry('dek-swap-a');
      const b = entry('dek-swap-b');
      await vault.put(a, 'token-of-a', { ttlSeconds: 60 });
      await vault.put(b, 'token-of-b', { ttlSeconds: 60 });
      const wdekOfB = JSON.parse((await store.get(canonical(b)))!).wdek;
      await editRecord(store, a, (fields) => {
        fields.wdek = wdekOfB;
      });
      await assert.rejects(vault.get(a), { code: 'ERR_VAULT_TAMPERED' });
    });

    it('an expired entry is not returned', async () => {
      const { vault, clock } = await setup();
      const id = entry('expiry');
      await vault.put(id, 'short-lived', { ttlSeconds: 30 });
      clock.advance(29);
      assert.equal(await vault.get(id), 'short-lived');
      clock.advance(2);
      assert.equal(await vault.get(id), undefined);
    });

    it('misuse is a TypeError or RangeError before anything is stored', async () => {
      const { vault } = await setup();
      const id = entry('misuse');
      await assert.rejects(vault.put(id, 'x', { ttlSeconds: 0 }), TypeError);
      await assert.rejects(vault.put(id, 'x', { ttlSeconds: Number.NaN }), TypeError);
      await assert.rejects(vault.put(id, 'x', {} as { ttlSeconds: number }), TypeError);
      await assert.rejects(
        vault.put(id, 'x', { ttlSeconds: 3_600_000 }),
        RangeError,
        'milliseconds passed as seconds',
      );
      await assert.rejects(vault.put(id, 42 as unknown as string, { ttlSeconds: 60 }), TypeError);
      await assert.rejects(vault.put({ namespace: 'Bad:ns', key: 'k' }, 'x', { ttlSeconds: 60 }), TypeError);
      assert.equal(await vault.get(id), undefined);
    });

    it('rotation: entries sealed before a KEK rotation still decrypt, through the KEK id in their record', async () => {
      const { vault, keyStore, store } = await setup();
      const before = entry('rotate-before');
      await vault.put(before, 'sealed-under-old', { ttlSeconds: 60 });
      const oldKek = keyStore.currentKeyId;
      const newKek = await vault.rotateKeyEncryptionKey();
      assert.notEqual(newKek, oldKek);
      assert.equal(keyStore.currentKeyId, newKek);
      const after = entry('rotate-after');
      await vault.put(after, 'sealed-under-new', { ttlSeconds: 60 });
      assert.equal(JSON.parse((await store.get(canonical(before)))!).kek, oldKek);
      assert.equal(JSON.parse((await store.get(canonical(after)))!).kek, newKek);
      assert.equal(await vault.get(before), 'sealed-under-old');
      assert.equal(await vault.get(after), 'sealed-under-new');
    });

    it('rotation: rewrapAll re-wraps every data key without touching ciphertexts; after retiring the old KEK all entries still decrypt', async () => {
      const { vault, keyStore, store } = await setup();
      const ids = [entry('rewrap-1'), entry('rewrap-2'), entry('rewrap-3')];
      for (const [index, id] of ids.entries()) await vault.put(id, `token-${index}`, { ttlSeconds: 60 });
      const oldKek = keyStore.currentKeyId;
      const beforeRecords = await Promise.all(
        ids.map(async (id) => JSON.parse((await store.get(canonical(id)))!)),
      );
      const newKek = await vault.rotateKeyEncryptionKey();
      const fresh = entry('rewrap-fresh');
      await vault.put(fresh, 'already-new', { ttlSeconds: 60 });

      const report = await vault.rewrapAll();
      assert.deepEqual(report, { scanned: 4, rewrapped: 3, current: 1, gone: 0, raced: 0, failed: [] });
      for (const [index, id] of ids.entries()) {
        const after = JSON.parse((await store.get(canonical(id)))!);
        const before = beforeRecords[index];
        assert.equal(after.kek, newKek);
        assert.notEqual(after.wdek, before.wdek);
        assert.deepEqual(
          [after.iv, after.ct, after.tag, after.exp, after.id],
          [before.iv, before.ct, before.tag, before.exp, before.id],
        );
      }
      await keyStore.retire(oldKek);
      for (const [index, id] of ids.entries()) assert.equal(await vault.get(id), `token-${index}`);
      assert.equal(await vault.get(fresh), 'already-new');
      assert.deepEqual(await vault.rewrapAll(), {
        scanned: 4,
        rewrapped: 0,
        current: 4,
        gone: 0,
        raced: 0,
        failed: [],
      });
    });

    it('rotation: retiring the old KEK without rewrapping makes its entries fail closed with ERR_VAULT_KEY_UNKNOWN', async () => {
      const { vault, keyStore } = await setup();
      const id = entry('retire-early');
      await vault.put(id, 'orphaned', { ttlSeconds: 60 });
      const oldKek = keyStore.currentKeyId;
      await vault.rotateKeyEncryptionKey();
      await keyStore.retire(oldKek);
      await assert.rejects(vault.get(id), { code: 'ERR_VAULT_KEY_UNKNOWN' });
    });

    it('rotation: rewrapAll reports a tampered entry and re-wraps the others', async () => {
      const { vault, store } = await setup();
      const good = entry('rewrap-good');
      const bad = entry('rewrap-bad');
      await vault.put(good, 'fine', { ttlSeconds: 60 });
      await vault.put(bad, 'damaged', { ttlSeconds: 60 });
      await editRecord(store, bad, (fields) => {
        fields.wdek = flipBit(fields.wdek, 9);
      });
      await vault.rotateKeyEncryptionKey();
      const report = await vault.rewrapAll();
      assert.equal(report.rewrapped, 1);
      assert.deepEqual(report.failed, [{ id: canonical(bad), code: 'ERR_VAULT_TAMPERED' }]);
      assert.equal(await vault.get(good), 'fine');
    });

    it('rotation: rewrapAll never overwrites a put that lands while it runs', async () => {
      const { vault, store, keyStore } = await setup();
      const id = entry('rewrap-race');
      await vault.put(id, 'old-token', { ttlSeconds: 60 });
      await vault.rotateKeyEncryptionKey();
      // The same real store, with a put of a newer token landing between rewrap's read and its write.
      let interleaved = false;
      const racing: VaultStore = {
        put: (...args) => store.put(...args),
        get: (key) => store.get(key),
        delete: (key) => store.delete(key),
        list: () => store.list(),
        replace: async (key, expected, next) => {
          if (!interleaved) {
            interleaved = true;
            await vault.put(id, 'new-token', { ttlSeconds: 60 });
          }
          return store.replace(key, expected, next);
        },
      };
      const racingVault = createVault({ keyStore, store: racing });
      const report = await racingVault.rewrapAll();
      assert.equal(report.raced, 1);
      assert.equal(report.rewrapped, 0);
      assert.equal(await vault.get(id), 'new-token');
    });
  });
}
