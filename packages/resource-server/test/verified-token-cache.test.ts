import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it, mock } from 'node:test';
import { followRevocations, RevocationList } from '@baton/shared-signals';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { BearerError, jwtAccessTokenVerifier, tokenProvenance, VerifiedTokenCache } from '../src/index.ts';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'https://orders.example/mcp';

describe('verified-token cache (jwtAccessTokenVerifier)', () => {
  const keys: Array<{ privateKey: CryptoKey; jwk: JWK }> = [];
  /** What the JWKS endpoint serves; tests change it to withdraw a key. */
  let published: { keys: JWK[] };
  let server: Server;
  let jwksUri: string;

  before(async () => {
    for (const kid of ['key-0', 'key-1']) {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      keys.push({ privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } });
    }
    published = { keys: keys.map((key) => key.jwk) };
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(published));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  afterEach(() => {
    mock.timers.reset();
    published = { keys: keys.map((key) => key.jwk) };
  });

  async function sign(
    options: {
      kid?: string;
      sub?: string;
      lifetime?: number;
      notBefore?: number;
      audience?: string;
      claims?: Record<string, unknown>;
    } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const index = options.kid === 'key-1' ? 1 : 0;
    const jwt = new SignJWT({
      sub: options.sub ?? 'user-alice',
      client_id: 'agent',
      scope: 'orders:read',
      jti: randomUUID(),
      ...options.claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: options.kid ?? 'key-0' })
      .setIssuer(ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (options.lifetime ?? 300));
    if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
    return jwt.sign(keys[index]!.privateKey);
  }

  const localJwks = () => ({ keys: keys.map((key) => key.jwk) as Array<Record<string, unknown>> });

  function refusedWith(reason: string) {
    return (error: unknown) => {
      assert.ok(error instanceof BearerError, `expected a BearerError, got ${String(error)}`);
      assert.equal(error.status, 401);
      assert.equal(error.reason, reason);
      return true;
    };
  }

  it('sanity: a token seen again is answered from the cache, with the same frozen claims', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const token = await sign();
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    assert.equal(verifier.cache?.size, 1);
    assert.equal(second, first, 'a hit hands out the verified claims object');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.claims) && Object.isFrozen(first.scopes));
  });

  it('cannot be tampered with through the claims it hands out (they are deeply frozen)', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const token = await sign();
    const claims = await verifier.verify(token);
    assert.throws(() => {
      (claims as { subject: string }).subject = 'user-bob';
    }, TypeError);
    assert.throws(() => {
      (claims.scopes as string[]).push('orders:admin');
    }, TypeError);
    assert.equal((await verifier.verify(token)).subject, 'user-alice');
    assert.deepEqual((await verifier.verify(token)).scopes, ['orders:read']);
  });

  it('keys the cache by the SHA-256 of the token, never by the token itself', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const token = await sign();
    await verifier.verify(token);
    const held = [...(verifier.cache?.keys() ?? [])];
    assert.deepEqual(held, [createHash('sha256').update(token).digest('base64url')]);
    for (const part of token.split('.')) {
      assert.equal(
        held.some((key) => key.includes(part)),
        false,
      );
    }
  });

  it('refuses a cached token once it has expired (exp is checked on every hit)', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const verifier = jwtAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: localJwks(),
      clockToleranceSeconds: 0,
    });
    const token = await sign({ lifetime: 5 });
    await verifier.verify(token);
    await verifier.verify(token);
    assert.equal(verifier.cache?.size, 1);
    mock.timers.tick(6_000);
    await assert.rejects(verifier.verify(token), refusedWith('token_expired'));
    assert.equal(verifier.cache?.size, 0, 'the expired entry is gone');
  });

  it('refuses a cached token past exp exactly when the uncached path does (same clock tolerance)', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const cached = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const uncached = jwtAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: localJwks(),
      cache: false,
    });
    assert.equal(uncached.cache, undefined);
    const token = await sign({ lifetime: 5 });
    await cached.verify(token);
    // Within the default 30 s tolerance after exp both accept; past it both refuse.
    mock.timers.tick(20_000);
    await cached.verify(token);
    await uncached.verify(token);
    mock.timers.tick(20_000);
    await assert.rejects(cached.verify(token), refusedWith('token_expired'));
    await assert.rejects(uncached.verify(token), refusedWith('token_expired'));
  });

  it('refuses a cached token once the issuer withdraws its signing key from the JWKS', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const cached = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri });
    const uncached = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri, cache: false });
    const token = await sign({ kid: 'key-0', lifetime: 3600 });
    await cached.verify(token);
    await uncached.verify(token);
    assert.equal(cached.cache?.size, 1);
    published = { keys: [keys[1]!.jwk] };
    // Past the key set's cache age (10 minutes) the issuer's keys are read again, on either path.
    mock.timers.tick(601_000);
    await assert.rejects(cached.verify(token), refusedWith('key_unknown'));
    await assert.rejects(uncached.verify(token), refusedWith('key_unknown'));
    assert.equal(cached.cache?.size, 0);
  });

  it('refuses, uncached, every token the full check refuses (a forged signature is never a hit)', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const token = await sign();
    await verifier.verify(token);
    const [header, payload] = token.split('.');
    // The same header and claims under another key's signature: a different token, so a different key.
    const forged = `${header}.${payload}.${(await sign({ kid: 'key-1' })).split('.')[2]}`;
    await assert.rejects(verifier.verify(forged), refusedWith('signature_invalid'));
    await assert.rejects(verifier.verify(forged), refusedWith('signature_invalid'));
    await assert.rejects(
      verifier.verify(await sign({ audience: 'https://other.example/mcp' })),
      refusedWith('audience_invalid'),
    );
    await assert.rejects(
      verifier.verify(await sign({ notBefore: Math.floor(Date.now() / 1000) + 600 })),
      refusedWith('token_not_yet_valid'),
    );
    assert.equal(verifier.cache?.size, 1, 'only the accepted token is held');
  });

  it('refuses to serve two verifiers from one cache (a token checked for one audience would pass at the other)', async () => {
    const cache = new VerifiedTokenCache();
    const first = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks(), cache });
    assert.equal(first.cache, cache);
    assert.throws(
      () =>
        jwtAccessTokenVerifier({
          issuer: ISSUER,
          audience: 'https://other.example/mcp',
          jwks: localJwks(),
          cache,
        }),
      TypeError,
    );
    assert.throws(
      () =>
        jwtAccessTokenVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          cache: new Map() as never,
        }),
      TypeError,
    );
  });

  it('evicts by token id, by subject and everything (an evicted token is verified in full again, not refused)', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const alice = [await sign(), await sign()];
    const bob = await sign({ sub: 'user-bob' });
    const claims = await Promise.all([...alice, bob].map((token) => verifier.verify(token)));
    const cache = verifier.cache!;
    assert.equal(cache.size, 3);
    assert.equal(cache.evict({ tokenId: claims[0]!.tokenId! }), 1);
    assert.equal(cache.size, 2);
    assert.equal(cache.evict({ subject: 'user-alice' }), 1);
    assert.deepEqual([...cache.keys()], [createHash('sha256').update(bob).digest('base64url')]);
    assert.equal(cache.evict('all'), 1);
    assert.equal(cache.size, 0);
    assert.throws(() => cache.evict({} as never), TypeError);
    // An evicted token is verified in full again, and held again.
    assert.equal((await verifier.verify(bob)).subject, 'user-bob');
    assert.equal(cache.size, 1);
  });

  it('follows a revocation list: drops the verifications a subject, session, client or jti revocation covers', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const cache = verifier.cache!;
    const revocations = new RevocationList();
    const following = followRevocations(revocations, cache);
    const alice = await sign({ claims: { sid: 'sid-alice' } });
    const bob = await sign({ sub: 'user-bob', claims: { sid: 'sid-bob' } });
    const viaService = await sign({
      sub: 'user-carol',
      claims: { act: { sub: 'orders-mcp', act: { sub: 'agent' } } },
    });
    const dave = await sign({ sub: 'user-dave' });
    const daveClaims = await verifier.verify(dave);
    for (const token of [alice, bob, viaService]) await verifier.verify(token);
    assert.equal(cache.size, 4);
    const held = (token: string) =>
      [...cache.keys()].includes(createHash('sha256').update(token).digest('base64url'));

    revocations.add([{ kind: 'subject', value: 'user-bob' }]);
    await following.settled();
    assert.equal(held(bob), false);
    assert.equal(cache.size, 3);
    revocations.add([{ kind: 'session', value: 'sid-alice' }]);
    await following.settled();
    assert.equal(held(alice), false);
    revocations.add([{ kind: 'client', value: 'orders-mcp' }]);
    await following.settled();
    assert.equal(held(viaService), false, 'an actor of the act chain');
    revocations.add([{ kind: 'jti', value: daveClaims.tokenId! }]);
    await following.settled();
    assert.equal(cache.size, 0);
    following.stop();
    await verifier.verify(dave);
    revocations.add([{ kind: 'subject', value: 'user-dave' }]);
    assert.equal(cache.size, 1, 'stopped: no longer dropped');
  });

  it('names the person, session, token and every client of the chain as a revocation can (tokenProvenance)', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const claims = await verifier.verify(
      await sign({
        claims: { sid: 'sid-1', azp: 'agent-app', act: { sub: 'orders-mcp', act: { sub: 'agent' } } },
      }),
    );
    assert.deepEqual(tokenProvenance(claims, { obtainedBy: 'billing-mcp' }), {
      subject: 'user-alice',
      session: 'sid-1',
      tokenIds: [claims.tokenId],
      clients: ['billing-mcp', 'agent', 'agent-app', 'orders-mcp'],
      issuedAt: claims.issuedAt,
    });
  });

  it('an eviction during an in-flight verification is not undone when that verification ends (no write-back)', async () => {
    const verifier = jwtAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: localJwks() });
    const cache = verifier.cache!;
    const token = await sign({ sub: 'user-bob' });
    const inFlight = verifier.verify(token);
    assert.equal(cache.evict({ subject: 'user-bob' }), 0, 'nothing held yet');
    assert.equal((await inFlight).subject, 'user-bob', 'the verification begun before still answers');
    assert.equal(cache.size, 0, 'a verification begun before an eviction is not stored after it');
    // A verification begun after the eviction is held as usual.
    await verifier.verify(token);
    assert.equal(cache.size, 1);
  });

  it("refuses a clockToleranceSeconds that is not a finite, non-negative number ('30s' would keep a cached token forever)", async () => {
    for (const clockToleranceSeconds of ['30s', Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () =>
          jwtAccessTokenVerifier({
            issuer: ISSUER,
            audience: AUDIENCE,
            jwks: localJwks(),
            clockToleranceSeconds: clockToleranceSeconds as never,
          }),
        TypeError,
        String(clockToleranceSeconds),
      );
    }
    // A number is still accepted, and a cached token past exp + tolerance is refused.
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const verifier = jwtAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: localJwks(),
      clockToleranceSeconds: 1,
    });
    const token = await sign({ lifetime: 2 });
    await verifier.verify(token);
    mock.timers.tick(4_500);
    await assert.rejects(verifier.verify(token), refusedWith('token_expired'));
  });

  it('holds at most maxEntries tokens, dropping the least recently used', async () => {
    const verifier = jwtAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: localJwks(),
      cache: new VerifiedTokenCache({ maxEntries: 2 }),
    });
    const tokens = [await sign(), await sign(), await sign()];
    const keyOf = (token: string) => createHash('sha256').update(token).digest('base64url');
    await verifier.verify(tokens[0]!);
    await verifier.verify(tokens[1]!);
    await verifier.verify(tokens[0]!); // now the most recently used
    await verifier.verify(tokens[2]!);
    assert.deepEqual([...verifier.cache!.keys()].sort(), [keyOf(tokens[0]!), keyOf(tokens[2]!)].sort());
    assert.throws(() => new VerifiedTokenCache({ maxEntries: 0 }), TypeError);
  });
});
