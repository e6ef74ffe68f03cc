import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VaultStore } from '../../src/index.ts';

/**
 * The VaultStore contract, run unchanged against every store. `makeStore` returns a fresh, isolated
 * store (its own table or key prefix); the caller cleans up.
 */
export function storeConformance(name: string, makeStore: () => Promise<VaultStore>): void {
  describe(`${name}: VaultStore conformance`, () => {
    const later = () => Date.now() + 60_000;
    const collect = async (store: VaultStore) => {
      const ids: string[] = [];
      for await (const id of store.list()) ids.push(id);
      return ids;
    };

    it('stores and returns exactly the record string', async () => {
      const store = await makeStore();
      const record = `{"v":1,"x":"${randomUUID()}"}`;
      await store.put('obo:a', record, later());
      assert.equal(await store.get('obo:a'), record);
      assert.equal(await store.get('obo:missing'), undefined);
    });

    it('put replaces, delete removes and says whether there was anything', async () => {
      const store = await makeStore();
      await store.put('obo:a', 'one', later());
      await store.put('obo:a', 'two', later());
      assert.equal(await store.get('obo:a'), 'two');
      assert.equal(await store.delete('obo:a'), true);
      assert.equal(await store.delete('obo:a'), false);
      assert.equal(await store.get('obo:a'), undefined);
    });

    it('an expired entry is neither returned nor listed', async () => {
      const store = await makeStore();
      await store.put('obo:short', 'r', Date.now() + 250);
      await store.put('obo:past', 'r', Date.now() - 1000);
      await store.put('obo:long', 'r', later());
      assert.equal(await store.get('obo:short'), 'r');
      assert.equal(await store.get('obo:past'), undefined);
      await sleep(400);
      assert.equal(await store.get('obo:short'), undefined);
      assert.deepEqual(await collect(store), ['obo:long']);
    });

    it('replace is a compare-and-set that keeps the expiry', async () => {
      const store = await makeStore();
      await store.put('obo:a', 'old', Date.now() + 300);
      assert.equal(await store.replace('obo:a', 'not-this', 'new'), false);
      assert.equal(await store.get('obo:a'), 'old');
      assert.equal(await store.replace('obo:a', 'old', 'new'), true);
      assert.equal(await store.get('obo:a'), 'new');
      assert.equal(await store.replace('obo:missing', 'old', 'new'), false);
      assert.equal(await store.get('obo:missing'), undefined, 'replace never creates');
      await sleep(450);
      assert.equal(
        await store.get('obo:a'),
        undefined,
        'the replaced record expires when the original would have',
      );
    });

    it('lists every id, whatever characters it holds, across pages', async () => {
      const store = await makeStore();
      const odd = [
        'obo:a*b',
        'obo:[x]?',
        'obo:back\\slash',
        'obo:sp ace|https://api|orders:read',
        'obo:ünï😀',
      ];
      const many = Array.from({ length: 1100 }, (_, index) => `bulk:${String(index).padStart(5, '0')}`);
      for (let offset = 0; offset < many.length; offset += 100) {
        await Promise.all(many.slice(offset, offset + 100).map((id) => store.put(id, 'r', later())));
      }
      for (const id of odd) await store.put(id, 'r', later());
      const listed = new Set(await collect(store));
      assert.deepEqual([...listed].sort(), [...many, ...odd].sort());
    });

    it('two stores with different prefixes do not see each other', async () => {
      const a = await makeStore();
      const b = await makeStore();
      await a.put('obo:same', 'from-a', later());
      assert.equal(await b.get('obo:same'), undefined);
      assert.deepEqual(await collect(b), []);
    });
  });
}
