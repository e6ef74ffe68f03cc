import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CachedToken,
  decodeCachedToken,
  encodeCachedToken,
  keyValueTokenStore,
  memoryKeyValue,
  TokenCache,
} from '../src/stores/index.ts';

/** An `obtain` that counts its calls and returns a token living `lifetime` seconds from `now()`. */
function issuer(now: () => number, lifetime = 300) {
  const state = {
    calls: 0,
    obtain: async (): Promise<CachedToken> => {
      state.calls++;
      return { accessToken: `token-${state.calls}`, expiresAt: now() / 1000 + lifetime };
    },
  };
  return state;
}

describe('TokenCache', () => {
  it('obtains once for concurrent callers of one key', async () => {
    const cache = new TokenCache();
    const source = issuer(Date.now);
    const slow = async () => {
      await sleep(10);
      return source.obtain();
    };
    const [a, b] = await Promise.all([cache.get('alice', slow), cache.get('alice', slow)]);
    assert.equal(source.calls, 1);
    assert.equal(a.accessToken, b.accessToken);
  });

  it('an expired token is never served: it is obtained again', async () => {
    let now = 1_000_000;
    const cache = new TokenCache({ now: () => now, refreshSkewSeconds: 0 });
    const source = issuer(() => now, 60);
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-1');
    now += 59_000;
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-1');
    now += 2_000;
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-2');
  });

  it('a token inside the refresh window is replaced before it lapses', async () => {
    let now = 1_000_000;
    const cache = new TokenCache({ now: () => now, refreshSkewSeconds: 30 });
    const source = issuer(() => now, 60);
    await cache.get('alice', source.obtain);
    now += 31_000;
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-2');
  });

  it('an evicted token is not served again, from memory or from the shared store', async () => {
    const shared = memoryKeyValue();
    const first = new TokenCache({ store: keyValueTokenStore(shared) });
    const second = new TokenCache({ store: keyValueTokenStore(shared) });
    const source = issuer(Date.now);
    await first.get('alice', source.obtain);
    await second.get('alice', source.obtain);
    assert.equal(source.calls, 1, 'the second instance reused the shared token');
    await first.evict('alice');
    assert.equal(shared.size, 0, 'gone from the shared store');
    assert.equal((await first.get('alice', source.obtain)).accessToken, 'token-2');
  });

  it('an eviction during an obtain in flight is not undone when that obtain answers', async () => {
    const cache = new TokenCache();
    const source = issuer(Date.now);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const pending = cache.get('alice', async () => {
      await gate;
      return source.obtain();
    });
    await cache.evict('alice');
    release();
    assert.equal((await pending).accessToken, 'token-1', 'the waiting caller is answered');
    assert.equal(cache.size, 0, 'but the token is not kept');
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-2');
  });

  it('a read racing an eviction does not bring back what the store held before the delete', async () => {
    const shared = memoryKeyValue();
    const store = keyValueTokenStore(shared);
    let deleted: () => void = () => {};
    const slowDelete = new Promise<void>((resolve) => {
      deleted = resolve;
    });
    const cache = new TokenCache({
      store: {
        get: store.get,
        set: store.set,
        delete: async (key) => {
          await slowDelete;
          await store.delete(key);
        },
      },
    });
    const source = issuer(Date.now);
    await cache.get('alice', source.obtain);
    const eviction = cache.evict('alice');
    // Starts while the store still holds the old token: answered with it, but must not keep it.
    const racing = await cache.get('alice', source.obtain);
    assert.equal(racing.accessToken, 'token-1');
    deleted();
    await eviction;
    assert.equal(cache.size, 0, 'not remembered in memory');
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-2');
  });

  it('a flood of one-off keys cannot grow memory past maxEntries', async () => {
    const cache = new TokenCache({ maxEntries: 5 });
    const source = issuer(Date.now);
    for (let i = 0; i < 50; i++) await cache.get(`user-${i}`, source.obtain);
    assert.equal(cache.size, 5);
  });

  it('a failure is not cached', async () => {
    const cache = new TokenCache();
    await assert.rejects(cache.get('alice', () => Promise.reject(new Error('broker down'))));
    const source = issuer(Date.now);
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-1');
  });

  it('with onStoreError, a failing store is a miss and a lost write, and the observer never sees a token', async () => {
    const seen: string[] = [];
    const cache = new TokenCache({
      maxEntries: 0,
      store: {
        get: () => Promise.reject(new Error('store down')),
        set: () => Promise.reject(new Error('store down')),
        delete: () => Promise.reject(new Error('store down')),
      },
      onStoreError: (error, operation) => seen.push(`${operation}: ${(error as Error).message}`),
    });
    const source = issuer(Date.now);
    assert.equal((await cache.get('alice', source.obtain)).accessToken, 'token-1');
    assert.deepEqual(seen, ['get: store down', 'set: store down']);
    await assert.rejects(cache.evict('alice'), /store down/, 'an eviction that failed does not look done');
  });

  it('without onStoreError, a failing store fails the call', async () => {
    const cache = new TokenCache({
      store: {
        get: () => Promise.reject(new Error('store down')),
        set: async () => {},
        delete: async () => {},
      },
    });
    await assert.rejects(cache.get('alice', issuer(Date.now).obtain), /store down/);
  });

  it('a revoked token whose store write was in flight is not put back in the shared store after evict resolves', async () => {
    const data = new Map<string, string>();
    // A store whose write has an asynchronous step first (the vault wraps the key before it writes).
    const slowWrites = {
      get: async (key: string) => data.get(key),
      set: async (key: string, value: string) => {
        await sleep(20);
        data.set(key, value);
      },
      delete: async (key: string) => {
        data.delete(key);
      },
    };
    const cache = new TokenCache({ store: keyValueTokenStore(slowWrites) });
    const expiresAt = Date.now() / 1000 + 3600;
    const first = cache.get('k', async () => ({ accessToken: 'revoked', expiresAt }));
    await sleep(5); // obtained; its store write is in flight
    await cache.evict('k');
    await first;
    await sleep(30);
    const otherInstance = new TokenCache({ store: keyValueTokenStore(slowWrites) });
    assert.equal(
      (await otherInstance.get('k', async () => ({ accessToken: 'fresh', expiresAt }))).accessToken,
      'fresh',
    );
    assert.equal(
      (await cache.get('k', async () => ({ accessToken: 'fresh', expiresAt }))).accessToken,
      'fresh',
    );
  });

  it('a caller arriving after evict resolved does not join an obtain begun before the revocation', async () => {
    const cache = new TokenCache();
    const expiresAt = Date.now() / 1000 + 3600;
    const first = cache.get('k', async () => {
      await sleep(50);
      return { accessToken: 'obtained-before-revocation', expiresAt };
    });
    await sleep(5);
    await cache.evict('k');
    const after = await cache.get('k', async () => ({ accessToken: 'fresh', expiresAt }));
    assert.equal(after.accessToken, 'fresh');
    assert.equal((await first).accessToken, 'obtained-before-revocation');
    // Nor is the earlier obtain's token kept once it answers.
    assert.equal(
      (await cache.get('k', async () => ({ accessToken: 'third', expiresAt }))).accessToken,
      'fresh',
    );
  });

  it('an eviction from a shared store that cannot delete rejects instead of looking done', async () => {
    const data = new Map<string, string>();
    const noDelete = {
      get: async (key: string) => data.get(key),
      set: async (key: string, value: string) => void data.set(key, value),
    };
    const cache = new TokenCache({ store: keyValueTokenStore(noDelete) });
    await cache.get('k', async () => ({ accessToken: 'a', expiresAt: Date.now() / 1000 + 3600 }));
    await assert.rejects(cache.evict('k'), /cannot delete/);
  });

  it('a foreign or corrupt shared entry is a miss, not a failure', async () => {
    assert.equal(decodeCachedToken('not json'), undefined);
    assert.equal(decodeCachedToken('{"accessToken":"","expiresAt":1}'), undefined);
    assert.equal(decodeCachedToken('[]'), undefined);
    const token = { accessToken: 'a', expiresAt: 2, scope: 'read' };
    assert.deepEqual(decodeCachedToken(encodeCachedToken(token)), token);
  });
});

describe('TokenCache following revocations (dropRevoked)', () => {
  const later = () => Date.now() / 1000 + 300;
  const bob = { subject: 'bob', session: 'sid-bob', clients: ['agent-1'] };
  const alice = { subject: 'alice', session: 'sid-alice', clients: ['agent-1'] };
  const bobRevoked = (provenance: { subject?: string }) => provenance.subject === 'bob';

  it('drops what a revocation covers from memory and the store, tells onRevokedDrop, keeps the rest', async () => {
    const store = keyValueTokenStore(memoryKeyValue());
    const dropped: Array<{ token: CachedToken; key: string }> = [];
    const cache = new TokenCache({ store, onRevokedDrop: (token, key) => void dropped.push({ token, key }) });
    await cache.get('bob-key', async () => ({ accessToken: 'bob-token', expiresAt: later() }), bob);
    await cache.get('alice-key', async () => ({ accessToken: 'alice-token', expiresAt: later() }), alice);
    await cache.dropRevoked(bobRevoked);
    assert.equal(await store.get('bob-key'), undefined);
    assert.equal((await store.get('alice-key'))?.accessToken, 'alice-token');
    assert.deepEqual(dropped, [
      { token: { accessToken: 'bob-token', expiresAt: dropped[0]!.token.expiresAt }, key: 'bob-key' },
    ]);
    const again = await cache.get(
      'bob-key',
      async () => ({ accessToken: 'bob-new', expiresAt: later() }),
      alice,
    );
    assert.equal(again.accessToken, 'bob-new');
  });

  it('keeps the provenance with the stored copy, never in what a caller gets', async () => {
    const store = keyValueTokenStore(memoryKeyValue());
    const cache = new TokenCache({ store });
    const token = await cache.get('k', async () => ({ accessToken: 't', expiresAt: later() }), bob);
    assert.equal('provenance' in token, false);
    assert.deepEqual((await store.get('k'))?.provenance, bob);
    assert.equal('provenance' in (await new TokenCache({ store }).get('k', async () => token)), false);
  });

  it('does not keep a token obtained under a revocation that came while it was being obtained', async () => {
    const cache = new TokenCache();
    let release!: () => void;
    const pending = cache.get(
      'bob-key',
      async () => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { accessToken: 'bob-token', expiresAt: later() };
      },
      bob,
    );
    await sleep(1);
    await cache.dropRevoked(bobRevoked);
    release();
    assert.equal((await pending).accessToken, 'bob-token', 'its caller is answered');
    const next = await cache.get('bob-key', async () => ({ accessToken: 'bob-2', expiresAt: later() }), bob);
    assert.equal(next.accessToken, 'bob-2', 'but it was not kept');
  });

  it('a stored entry whose provenance does not read is a miss, never served unchecked', async () => {
    const raw = memoryKeyValue();
    await raw.set(
      'k',
      JSON.stringify({ accessToken: 'forged', expiresAt: later(), provenance: { subject: 7 } }),
      60,
    );
    const cache = new TokenCache({ store: keyValueTokenStore(raw) });
    assert.equal(
      (await cache.get('k', async () => ({ accessToken: 'fresh', expiresAt: later() }))).accessToken,
      'fresh',
    );
  });

  it('rejects when the store cannot delete a revoked token, after trying every one', async () => {
    const store = keyValueTokenStore({ ...memoryKeyValue(), delete: undefined } as never);
    const cache = new TokenCache({ store });
    await cache.get('bob-key', async () => ({ accessToken: 'bob-token', expiresAt: later() }), bob);
    await assert.rejects(cache.dropRevoked(bobRevoked), AggregateError);
  });
});
