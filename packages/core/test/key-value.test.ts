import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryKeyValue } from '../src/stores/index.ts';
import { keyValueConformance } from './fixtures/key-value-conformance.ts';

keyValueConformance('memoryKeyValue', async (clock) => memoryKeyValue({ now: clock.now }));

describe('memoryKeyValue bounds', () => {
  it('a flood of one-off keys cannot grow it past maxEntries: the least recently used goes first', async () => {
    const store = memoryKeyValue({ maxEntries: 3 });
    await store.set('a', '1', 60);
    await store.set('b', '2', 60);
    await store.set('c', '3', 60);
    assert.equal(await store.get('a'), '1', 'a is now the most recently used');
    for (let i = 0; i < 100; i++) await store.set(`flood-${i}`, 'x', 60);
    assert.equal(store.size, 3);
    assert.equal(await store.get('b'), undefined);
  });

  it('expired entries make room before a live one is evicted', async () => {
    let now = 0;
    const store = memoryKeyValue({ maxEntries: 2, now: () => now });
    await store.set('expiring', 'x', 1);
    await store.set('live', 'y', 60);
    now = 2000;
    await store.set('new', 'z', 60);
    assert.equal(await store.get('live'), 'y');
    assert.equal(await store.get('new'), 'z');
  });

  it('refuses a non-positive bound', () => {
    assert.throws(() => memoryKeyValue({ maxEntries: 0 }), TypeError);
  });
});
