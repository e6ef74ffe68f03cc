import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type JwtBearerConnectorOptions, jwtBearerConnector, type TokenCache } from '../src/index.ts';
import { expectConnectorError } from './fixtures/expect-connector-error.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateTestKey, type TestKey } from './fixtures/keys.ts';
import { sealedTokenCache } from './fixtures/sealed-token-cache.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve'];
/** Each Baton user `user-<name>` is `<name>@platform.example` there, account `005-<name>`. */
const PLATFORM_USERS = Object.fromEntries(USERS.map((name) => [`${name}@platform.example`, `005-${name}`]));
const user = (name: string, tenant: string | null = 'acme') => ({ sub: `user-${name}`, tenant });

describe('per-user token caching', () => {
  let platform: TestPlatform;
  let key: TestKey;

  before(async () => {
    key = await generateTestKey();
    platform = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton', jwks: { keys: [key.publicJwk] } }],
      users: PLATFORM_USERS,
    });
  });
  after(() => platform.close());

  const connector = (overrides: Partial<JwtBearerConnectorOptions> = {}) =>
    jwtBearerConnector({
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'baton',
      privateKey: key.privateJwk,
      identityMapping: (u) => (u.sub.startsWith('user-') ? `${u.sub.slice(5)}@platform.example` : undefined),
      ...overrides,
    });
  /** Token endpoint requests made while `run` ran. */
  async function requestsDuring(run: () => Promise<unknown>): Promise<number> {
    const before = platform.tokenRequests.length;
    await run();
    return platform.tokenRequests.length - before;
  }

  it('serves a second call for the same user and scopes from the cache, in any scope order', async () => {
    const c = connector();
    let first: string | undefined;
    const sent = await requestsDuring(async () => {
      first = (await c.token({ user: user('ann'), scopes: ['api', 'reports:read'] })).accessToken;
      assert.equal(
        (await c.token({ user: user('ann'), scopes: ['api', 'reports:read'] })).accessToken,
        first,
      );
      assert.equal(
        (await c.token({ user: user('ann'), scopes: ['reports:read', 'api', 'api'] })).accessToken,
        first,
      );
    });
    assert.equal(sent, 1);
  });

  it('keeps a separate entry per scope set', async () => {
    const c = connector();
    const sent = await requestsDuring(async () => {
      const narrow = await c.token({ user: user('ann'), scopes: ['api'] });
      const wide = await c.token({ user: user('ann'), scopes: ['api', 'reports:read'] });
      assert.notEqual(narrow.accessToken, wide.accessToken);
      assert.equal((await platform.verifyAccessToken(narrow.accessToken)).scope, 'api');
      assert.equal((await platform.verifyAccessToken(wide.accessToken)).scope, 'api reports:read');
      assert.equal((await c.token({ user: user('ann'), scopes: ['api'] })).accessToken, narrow.accessToken);
    });
    assert.equal(sent, 2);
  });

  it("never hands one user's token to another, under concurrency", async () => {
    const c = connector();
    const calls = USERS.flatMap((name) =>
      Array.from({ length: 4 }, async () => ({
        name,
        token: await c.token({ user: user(name), scopes: ['api'] }),
      })),
    );
    let results: Array<{ name: string; token: { accessToken: string } }> = [];
    const sent = await requestsDuring(async () => {
      results = await Promise.all(calls);
    });
    assert.equal(sent, USERS.length, 'one request per user');
    for (const { name, token } of results) {
      assert.equal((await platform.verifyAccessToken(token.accessToken)).sub, `005-${name}`);
    }
    assert.equal(new Set(results.map((result) => result.token.accessToken)).size, USERS.length);
  });

  it('keeps the same subject in two tenants apart', async () => {
    const c = connector();
    const sent = await requestsDuring(async () => {
      const inAcme = await c.token({ user: user('ben', 'acme'), scopes: ['api'] });
      const inGlobex = await c.token({ user: user('ben', 'globex'), scopes: ['api'] });
      const noTenant = await c.token({ user: user('ben', null), scopes: ['api'] });
      assert.equal(new Set([inAcme.accessToken, inGlobex.accessToken, noTenant.accessToken]).size, 3);
    });
    assert.equal(sent, 3);
  });

  it('sends one request for many concurrent calls with the same key (single-flight)', async () => {
    const c = connector();
    let tokens: string[] = [];
    const sent = await requestsDuring(async () => {
      const all = await Promise.all(
        Array.from({ length: 10 }, () => c.token({ user: user('cat'), scopes: ['api'] })),
      );
      tokens = all.map((token) => token.accessToken);
    });
    assert.equal(sent, 1);
    assert.equal(new Set(tokens).size, 1);
  });

  it('shares a failure in flight, and does not cache it', async () => {
    // "zed" maps to zed@platform.example, whom the platform does not know.
    const c = connector();
    const sent = await requestsDuring(async () => {
      const calls = Array.from({ length: 5 }, () => c.token({ user: user('zed'), scopes: ['api'] }));
      for (const call of calls) await expectConnectorError(call, 'ERR_CONNECTOR_REFUSED', 'invalid_grant');
      await expectConnectorError(c.token({ user: user('zed'), scopes: ['api'] }), 'ERR_CONNECTOR_REFUSED');
    });
    assert.equal(sent, 2, 'one shared request, then a new one');
  });

  it('refreshes a token refreshSkewSeconds before it expires (injected clock)', async () => {
    let now = Date.now();
    const c = connector({ now: () => now });
    const ann = { user: user('dan'), scopes: ['api'] };
    const first = await c.token(ann);
    const lifetime = first.expiresAt - Math.floor(now / 1000);
    assert.equal(lifetime, 600, "the platform's expires_in");

    now += (lifetime - 31) * 1000;
    const sent = await requestsDuring(async () => {
      assert.equal((await c.token(ann)).accessToken, first.accessToken, 'still fresh 31 s before expiry');
    });
    assert.equal(sent, 0);

    now += 2000;
    let refreshed: { accessToken: string; expiresAt: number } | undefined;
    const resent = await requestsDuring(async () => {
      refreshed = await c.token(ann);
    });
    assert.equal(resent, 1, 'replaced 29 s before expiry');
    assert.notEqual(refreshed!.accessToken, first.accessToken);
    assert.ok(refreshed!.expiresAt > first.expiresAt);
  });

  it('honours a configured refreshSkewSeconds', async () => {
    let now = Date.now();
    const c = connector({ now: () => now, refreshSkewSeconds: 300 });
    const eve = { user: user('eve'), scopes: ['api'] };
    await c.token(eve);
    now += 299 * 1000;
    assert.equal(await requestsDuring(() => c.token(eve)), 0);
    now += 2000;
    assert.equal(await requestsDuring(() => c.token(eve)), 1);
  });

  it('refreshes when the platform issues short-lived tokens (real time)', async () => {
    const shortLived = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton', jwks: { keys: [key.publicJwk] } }],
      users: PLATFORM_USERS,
      accessTokenTtlSeconds: 32,
    });
    try {
      // Fresh for at least one second (expiresAt is rounded down), stale within two.
      const c = connector({ tokenEndpoint: shortLived.tokenEndpoint });
      const first = await c.token({ user: user('ann'), scopes: ['api'] });
      assert.equal((await c.token({ user: user('ann'), scopes: ['api'] })).accessToken, first.accessToken);
      const refreshAt = (first.expiresAt - 30) * 1000;
      await new Promise((resolve) => setTimeout(resolve, refreshAt - Date.now() + 20));
      const second = await c.token({ user: user('ann'), scopes: ['api'] });
      assert.notEqual(second.accessToken, first.accessToken, 'replaced once inside the 30 s skew window');
      assert.equal(shortLived.tokenRequests.length, 2);
    } finally {
      await shortLived.close();
    }
  });

  it('works with a pluggable store that only ever sees sealed strings', async () => {
    const stored = new Map<string, string>();
    const cache: TokenCache = sealedTokenCache(stored);
    const first = connector({ id: 'salesforce', cache });
    const token = await first.token({ user: user('ann'), scopes: ['api'] });
    assert.equal(stored.size, 1);
    const [storedKey, sealed] = [...stored][0]!;
    assert.equal(
      storedKey,
      JSON.stringify(['salesforce', 'user-ann', 'acme', ['api'], 'ann@platform.example']),
    );
    assert.ok(!sealed.includes(token.accessToken), 'the store holds ciphertext');
    // A second connector instance with the same id and store (another process, say) reuses the entry.
    const second = connector({ id: 'salesforce', cache });
    const sent = await requestsDuring(async () => {
      assert.equal(
        (await second.token({ user: user('ann'), scopes: ['api'] })).accessToken,
        token.accessToken,
      );
    });
    assert.equal(sent, 0);
  });
});
