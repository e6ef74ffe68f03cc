import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCachedToken, encodeCachedToken, memoryTokenCache, tokenCacheKey } from '../src/index.ts';
import { perUserTokenCache } from '../src/per-user-cache.ts';

describe('memoryTokenCache', () => {
  it('returns what was set, as a copy, until the ttl passes', async () => {
    let now = 1_000_000;
    const cache = memoryTokenCache({ now: () => now });
    const token = { accessToken: 'opaque-1', expiresAt: 2000, scope: 'api' };
    await cache.set('k', token, 60);
    const read = await cache.get('k');
    assert.deepEqual(read, token);
    read!.accessToken = 'changed by a caller';
    assert.equal((await cache.get('k'))?.accessToken, 'opaque-1');
    now += 59_999;
    assert.ok(await cache.get('k'));
    now += 1;
    assert.equal(await cache.get('k'), undefined);
  });

  it('does not keep entries with no time left, and deletes on request', async () => {
    const cache = memoryTokenCache();
    await cache.set('gone', { accessToken: 't', expiresAt: 1 }, 0);
    assert.equal(await cache.get('gone'), undefined);
    await cache.set('k', { accessToken: 't', expiresAt: 1 }, 60);
    await cache.delete('k');
    assert.equal(await cache.get('k'), undefined);
  });
});

describe('cached token encoding', () => {
  it('round-trips and treats anything else as a miss', () => {
    const token = { accessToken: 'a.b.c', expiresAt: 1_700_000_000 };
    assert.deepEqual(decodeCachedToken(encodeCachedToken(token)), token);
    for (const garbage of [
      '',
      'null',
      '{}',
      '{"accessToken":"","expiresAt":1}',
      '{"accessToken":"x"}',
      '[1]',
    ]) {
      assert.equal(decodeCachedToken(garbage), undefined, garbage);
    }
  });
});

describe('tokenCacheKey', () => {
  it('separates connectors, users, tenants and scope sets, whatever characters they contain', () => {
    const keys = [
      tokenCacheKey('c', { sub: 'a', tenant: 'b' }, ['x']),
      tokenCacheKey('c', { sub: 'a|b', tenant: null }, ['x']),
      tokenCacheKey('c', { sub: 'a', tenant: null }, ['x']),
      tokenCacheKey('c', { sub: 'a', tenant: 'null' }, ['x']),
      tokenCacheKey('c', { sub: 'a', tenant: 'b' }, ['x y']),
      tokenCacheKey('c', { sub: 'a', tenant: 'b' }, ['x', 'y']),
      tokenCacheKey('c', { sub: 'a', tenant: 'b' }, []),
      tokenCacheKey('d', { sub: 'a', tenant: 'b' }, ['x']),
      tokenCacheKey('c', { sub: '"a","b"', tenant: 'b' }, ['x']),
    ];
    assert.equal(new Set(keys).size, keys.length);
  });

  it('ignores scope order and duplicates', () => {
    const user = { sub: 'a', tenant: 't' };
    assert.equal(tokenCacheKey('c', user, ['y', 'x', 'x']), tokenCacheKey('c', user, ['x', 'y']));
  });
});

describe('per-user token cache eviction and bounds', () => {
  const request = (sub: string) => ({ user: { sub, tenant: 'acme' }, scopes: ['api'] });
  const fetcher = () => {
    const state = { calls: 0 };
    const fetchToken = async () => ({
      accessToken: `platform-token-${++state.calls}`,
      expiresAt: Date.now() / 1000 + 3600,
    });
    return { state, fetchToken };
  };

  it("an evicted user's token is fetched again, and other users' tokens are not touched", async () => {
    const cache = perUserTokenCache('crm');
    const { state, fetchToken } = fetcher();
    await cache.token(request('user-ann'), fetchToken);
    await cache.token(request('user-ben'), fetchToken);
    await cache.token(request('user-ann'), fetchToken);
    assert.equal(state.calls, 2);
    await cache.evict(request('user-ann'));
    assert.equal((await cache.token(request('user-ann'), fetchToken)).accessToken, 'platform-token-3');
    assert.equal((await cache.token(request('user-ben'), fetchToken)).accessToken, 'platform-token-2');
  });

  it('eviction reaches a shared store, so another instance does not serve the token either', async () => {
    const shared = memoryTokenCache();
    const first = perUserTokenCache('crm', { cache: shared });
    const second = perUserTokenCache('crm', { cache: shared });
    const { state, fetchToken } = fetcher();
    await first.token(request('user-ann'), fetchToken);
    await second.token(request('user-ann'), fetchToken);
    assert.equal(state.calls, 1);
    await first.evict(request('user-ann'));
    await second.token(request('user-ann'), fetchToken);
    assert.equal(state.calls, 2);
  });

  it('a flood of one-off users cannot grow the default cache past its bound', async () => {
    const cache = memoryTokenCache({ maxEntries: 10 });
    for (let i = 0; i < 100; i++) await cache.set(`user-${i}`, { accessToken: 't', expiresAt: 1e12 }, 60);
    let kept = 0;
    for (let i = 0; i < 100; i++) if (await cache.get(`user-${i}`)) kept++;
    assert.equal(kept, 10);
    assert.ok(await cache.get('user-99'), 'the most recent stays');
  });
});
