import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { base64url, exportSPKI, SignJWT } from 'jose';
import {
  createPushEndpoint,
  EVENT_TYPES,
  MemoryReplayGuard,
  type PushHandler,
  RevocationFeed,
  type SetErrorCode,
} from '../src/index.ts';
import {
  AUDIENCE,
  ISSUER,
  type Keys,
  mintSet,
  revokedTokenOf,
  serve,
  subjectEvent,
  transmitterKeys,
} from './fixtures/sets.ts';

describe('RFC 8935 push endpoint', () => {
  let key: Keys;
  let attacker: Keys;
  let feed: RevocationFeed;
  let handler: PushHandler;
  let server: Awaited<ReturnType<typeof serve>>;
  const refusals: { err: SetErrorCode; reason: string }[] = [];
  const posted: string[] = [];
  const answers: string[] = [];

  before(async () => {
    key = await transmitterKeys('tx-1');
    attacker = await transmitterKeys('tx-1');
    feed = new RevocationFeed({ maxStalenessMs: 30_000 });
    handler = createPushEndpoint({
      feed,
      verify: { issuer: ISSUER, audience: AUDIENCE, keys: key.keys, replay: new MemoryReplayGuard() },
      onRefused: (refusal) => refusals.push(refusal),
    });
    server = await serve(handler);
  });
  after(async () => {
    handler.close();
    await server.close();
    // No raw SET (or any part of one) in any answer or log line.
    for (const jwt of posted.filter((body) => body.split('.').length === 3 && body.length > 40)) {
      const [, payload = '', signature = ''] = jwt.split('.');
      for (const text of [...answers, JSON.stringify(refusals)]) {
        for (const part of [jwt, payload, signature].filter((part) => part.length > 16)) {
          assert.ok(!text.includes(part), 'a SET leaked');
        }
      }
    }
  });

  async function post(body: string, headers: Record<string, string> = {}) {
    posted.push(body);
    const response = await fetch(`${server.url}/ssf/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json', ...headers },
      body,
    });
    const text = await response.text();
    answers.push(text);
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as { err: string; description: string }) : undefined,
    };
  }

  async function refusedWith(body: string, err: SetErrorCode, headers?: Record<string, string>) {
    const answer = await post(body, headers);
    assert.equal(answer.status, 400);
    assert.equal(answer.body?.err, err);
    assert.equal(typeof answer.body?.description, 'string');
  }

  it('accepts a good SET with 202, and the feed refuses the revoked token after', async () => {
    const { jwt, jti } = await mintSet(key);
    assert.equal(feed.check({ jti: revokedTokenOf(jti) })?.reason, 'revocation_feed_stale');
    const answer = await post(jwt);
    assert.equal(answer.status, 202);
    assert.equal(answer.body, undefined);
    assert.deepEqual(feed.check({ jti: revokedTokenOf(jti) }), { reason: 'token_revoked', kind: 'jti' });
    assert.equal(feed.check({ jti: 'another' }), undefined, 'the push made the feed fresh');
  });

  it('refuses a SET forged with another key under the same kid (invalid_key)', async () => {
    const { jwt, jti } = await mintSet(attacker);
    await refusedWith(jwt, 'invalid_key');
    assert.equal(feed.check({ jti: revokedTokenOf(jti) }), undefined);
  });

  it('refuses an unsigned SET (alg: none)', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'secevent+jwt' }));
    const payload = base64url.encode(
      JSON.stringify({
        iss: ISSUER,
        aud: AUDIENCE,
        iat: Math.floor(Date.now() / 1000),
        jti: 'unsigned-1',
        sub_id: { format: 'iss_sub', iss: 'https://idp.test', sub: 'alice' },
        events: { [EVENT_TYPES.accountDisabled]: {} },
      }),
    );
    await refusedWith(`${header}.${payload}.`, 'invalid_key');
    assert.equal(feed.check({ sub: 'alice', iat: 0 }), undefined);
  });

  it("refuses an HS256 SET keyed with the transmitter's public key (algorithm confusion)", async () => {
    const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
    const jwt = await new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      iat: Math.floor(Date.now() / 1000),
      jti: 'hs-1',
      sub_id: { format: 'iss_sub', iss: 'https://idp.test', sub: 'alice' },
      events: { [EVENT_TYPES.accountDisabled]: {} },
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'secevent+jwt', kid: key.kid })
      .sign(secret);
    await refusedWith(jwt, 'invalid_key');
    assert.equal(feed.check({ sub: 'alice', iat: 0 }), undefined);
  });

  it('refuses a replayed SET, so a captured account-enabled cannot lift a later disable', async () => {
    const now = Math.floor(Date.now() / 1000);
    const enable = await mintSet(
      key,
      subjectEvent(EVENT_TYPES.accountEnabled, 'carol', { event_timestamp: now - 5 }),
    );
    assert.equal(
      (
        await post(
          (
            await mintSet(
              key,
              subjectEvent(EVENT_TYPES.accountDisabled, 'carol', { event_timestamp: now - 10 }),
            )
          ).jwt,
        )
      ).status,
      202,
    );
    assert.equal((await post(enable.jwt)).status, 202);
    // Enabled again: a token issued after the enable passes (one from before stays refused).
    const later = Math.floor(Date.now() / 1000) + 10;
    assert.equal(feed.check({ sub: 'carol', iat: later }), undefined);
    assert.equal(feed.check({ sub: 'carol', iat: 1 })?.reason, 'subject_revoked');
    assert.equal(
      (await post((await mintSet(key, subjectEvent(EVENT_TYPES.accountDisabled, 'carol'))).jwt)).status,
      202,
    );
    await refusedWith(enable.jwt, 'invalid_request');
    assert.equal(feed.check({ sub: 'carol', iat: later })?.reason, 'subject_revoked');
  });

  it('refuses a SET minted for another audience (invalid_audience)', async () => {
    await refusedWith((await mintSet(key, { aud: 'https://billing.test/mcp' })).jwt, 'invalid_audience');
  });

  it('refuses a SET from another issuer (invalid_issuer)', async () => {
    await refusedWith((await mintSet(key, { iss: 'https://evil.test' })).jwt, 'invalid_issuer');
  });

  it('refuses an access token (typ at+jwt) posted as a SET', async () => {
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ sub: 'alice', client_id: 'agent', scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti('at-1')
      .sign(key.privateKey);
    await refusedWith(accessToken, 'invalid_request');
    await refusedWith((await mintSet(key, {}, { typ: 'JWT' })).jwt, 'invalid_request');
  });

  it('answers 503, never a refusal, to a SET too old or from the future: the transmitter keeps it, and the feed is stale meanwhile', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 2 * 86_400, now + 3_600]) {
      assert.equal((await post((await mintSet(key, { iat })).jwt)).status, 503);
      assert.equal(feed.check({ jti: 'anything' })?.reason, 'revocation_feed_stale');
      // The next SET it can take makes it fresh again.
      assert.equal((await post((await mintSet(key)).jwt)).status, 202);
    }
  });

  it('refuses a SET without jti, without events, or with an event no SSF sub_id names', async () => {
    await refusedWith((await mintSet(key, { jti: '' })).jwt, 'invalid_request');
    await refusedWith((await mintSet(key, { events: {} })).jwt, 'invalid_request');
    await refusedWith((await mintSet(key, { sub_id: undefined })).jwt, 'invalid_request');
    await refusedWith((await mintSet(key, { events: { 'urn:evil:event': {} } })).jwt, 'invalid_request');
  });

  it('refuses a malformed body, a wrong content type and an oversized body', async () => {
    await refusedWith('not.a.jwt', 'invalid_request');
    await refusedWith('', 'invalid_request');
    await refusedWith((await mintSet(key)).jwt, 'invalid_request', { 'content-type': 'application/json' });
    await refusedWith('a'.repeat(70_000), 'invalid_request');
  });

  it('answers 405 to GET and 406 to a transmitter that accepts no JSON', async () => {
    assert.equal((await fetch(`${server.url}/ssf/push`)).status, 405);
    assert.equal((await post((await mintSet(key)).jwt, { accept: 'text/html' })).status, 406);
  });

  it('records a verification event and marks the feed fresh', async () => {
    let clock = 1_000_000;
    const quiet = new RevocationFeed({ maxStalenessMs: 1_000, now: () => clock });
    const endpoint = createPushEndpoint({
      feed: quiet,
      verify: { issuer: ISSUER, audience: AUDIENCE, keys: key.keys, replay: new MemoryReplayGuard() },
    });
    const verification = await mintSet(key, {
      sub_id: { format: 'opaque', id: 'stream-1' },
      events: { [EVENT_TYPES.verification]: { state: 'abc' } },
    });
    assert.equal(quiet.stale, true);
    const response = await endpoint(
      new Request('http://127.0.0.1/push', {
        method: 'POST',
        headers: { 'content-type': 'application/secevent+jwt' },
        body: verification.jwt,
      }),
    );
    assert.equal(response.status, 202);
    assert.equal(quiet.stale, false);
    assert.deepEqual(quiet.freshness.lastVerification, { state: 'abc', atMs: clock });
    clock += 1_001;
    assert.deepEqual(quiet.check({ sub: 'x' }), { reason: 'revocation_feed_stale', fallback: 'refuse' });
    endpoint.close();
  });

  it('is stale while the transmitter says the stream is paused, and fresh when it is enabled again', async () => {
    const paused = new RevocationFeed();
    const endpoint = createPushEndpoint({
      feed: paused,
      verify: { issuer: ISSUER, audience: AUDIENCE, keys: key.keys, replay: new MemoryReplayGuard() },
    });
    const push = async (status: string) => {
      const { jwt } = await mintSet(key, {
        sub_id: { format: 'opaque', id: 'stream-1' },
        events: { [EVENT_TYPES.streamUpdated]: { status } },
      });
      const response = await endpoint(
        new Request('http://127.0.0.1/push', {
          method: 'POST',
          headers: { 'content-type': 'application/secevent+jwt' },
          body: jwt,
        }),
      );
      assert.equal(response.status, 202);
    };
    await push('paused');
    assert.equal(paused.stale, true);
    await push('enabled');
    assert.equal(paused.stale, false);
    endpoint.close();
  });

  it('requires the stream authorization header when configured (authentication_failed)', async () => {
    const guarded = createPushEndpoint({
      feed: new RevocationFeed(),
      verify: { issuer: ISSUER, audience: AUDIENCE, keys: key.keys, replay: new MemoryReplayGuard() },
      authorization: 'Bearer s3cret-value',
    });
    const send = async (authorization?: string) => {
      const response = await guarded(
        new Request('http://127.0.0.1/push', {
          method: 'POST',
          headers: {
            'content-type': 'application/secevent+jwt',
            ...(authorization ? { authorization } : {}),
          },
          body: (await mintSet(key)).jwt,
        }),
      );
      return { status: response.status, body: response.status === 400 ? await response.json() : undefined };
    };
    assert.deepEqual((await send()).body?.err, 'authentication_failed');
    assert.deepEqual((await send('Bearer s3cret-valuf')).body?.err, 'authentication_failed');
    assert.equal((await send('Bearer s3cret-value')).status, 202);
    guarded.close();
  });

  it('answers 503 (retry) when the transmitter keys cannot be fetched, and applies nothing', async () => {
    const failing = createPushEndpoint({
      feed: new RevocationFeed(),
      verify: {
        issuer: ISSUER,
        audience: AUDIENCE,
        keys: async () => {
          throw new Error('jwks unreachable');
        },
        replay: new MemoryReplayGuard(),
      },
    });
    const response = await failing(
      new Request('http://127.0.0.1/push', {
        method: 'POST',
        headers: { 'content-type': 'application/secevent+jwt' },
        body: (await mintSet(key)).jwt,
      }),
    );
    assert.equal(response.status, 503);
    failing.close();
  });
});
