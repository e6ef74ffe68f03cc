import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { EVENT_TYPES, revocationsOfEvent, type SecurityEvent } from '@baton/shared-signals';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  CookieJar,
  DEMO_USERS,
  type DemoIdp,
  obtainUserAccessToken,
  SetDeliveryError,
  scriptedLogout,
  startDemoIdp,
} from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';
const AUDIENCE = 'https://broker.test/ssf-receiver';

/**
 * An RFC 8935 push receiver on real HTTP: records each SET, answering with the next scripted status
 * (202 once the script runs out).
 */
async function startReceiver(
  script: Array<{ status: number; body?: unknown; headers?: Record<string, string> }> = [],
) {
  const received: string[] = [];
  const waiting: Array<(set: string) => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const set = Buffer.concat(chunks).toString();
      const answer = script.shift() ?? { status: 202 };
      assert.equal(req.headers['content-type'], 'application/secevent+jwt');
      received.push(set);
      res.writeHead(answer.status, {
        ...(answer.body ? { 'content-type': 'application/json' } : {}),
        ...answer.headers,
      });
      res.end(answer.body ? JSON.stringify(answer.body) : undefined);
      if (answer.status === 202) waiting.shift()?.(set);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/events`,
    received,
    /** The next SET the receiver accepts (202). */
    next: () => new Promise<string>((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('the demo IdP transmits CAEP and RISC events (Shared Signals push)', () => {
  let idp: DemoIdp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const errors: unknown[] = [];

  before(async () => {
    receiver = await startReceiver();
    idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read', 'orders:write'] }],
      signals: { receivers: [{ endpoint: receiver.endpoint, audience: AUDIENCE }] },
      onError: (error) => errors.push(error),
    });
  });
  after(async () => {
    await idp.close();
    await receiver.close();
  });

  /** Verifies a SET as a receiver must: the IdP's key, `typ`, issuer, audience; one event; jti and iat. */
  async function verified(set: string) {
    const { payload, protectedHeader } = await jwtVerify(set, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: AUDIENCE,
      typ: 'secevent+jwt',
      algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.typ, 'secevent+jwt');
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.iat, 'number');
    assert.equal(payload.sub, undefined, 'SSF 1.0: the subject is sub_id, not sub');
    const events = payload.events as Record<string, Record<string, unknown>>;
    assert.equal(Object.keys(events).length, 1, 'one event per SET');
    const [type] = Object.keys(events);
    return { type: type!, event: events[type!]!, subId: payload.sub_id as Record<string, unknown> };
  }

  it('sign-out sends CAEP session-revoked naming the person and the session their tokens carry as sid', async () => {
    const jar = new CookieJar();
    const { access_token } = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: DEMO_USERS.alice.password,
      resource: ORDERS,
      scope: 'orders:read',
      jar,
    });
    const sid = decodeJwt(access_token).sid;
    assert.equal(typeof sid, 'string');

    const arriving = receiver.next();
    await scriptedLogout(idp.issuer, jar);
    const { type, event, subId } = await verified(await arriving);
    assert.equal(type, EVENT_TYPES.sessionRevoked);
    assert.deepEqual(subId, {
      format: 'complex',
      user: { format: 'iss_sub', iss: idp.issuer, sub: DEMO_USERS.alice.sub },
      session: { format: 'opaque', id: sid },
    });
    assert.equal(event.initiating_entity, 'user');
    assert.equal(typeof event.event_timestamp, 'number');
    // What a Baton receiver makes of it (the shared-signals contract): that session's tokens refused.
    const change = revocationsOfEvent({ type, subject: subId, payload: event } as SecurityEvent, 0);
    assert.deepEqual(
      change.add.map(({ kind, value }) => ({ kind, value })),
      [{ kind: 'session', value: sid }],
    );
  });

  it('disableUser sends RISC account-disabled and the person can no longer sign in; enableUser undoes both', async () => {
    const bob = DEMO_USERS.bob;
    const signIn = () =>
      obtainUserAccessToken(idp, {
        username: bob.username,
        password: bob.password,
        resource: ORDERS,
        scope: 'orders:read',
      });
    await signIn();

    const disabled = receiver.next();
    await idp.disableUser(bob.sub);
    const off = await verified(await disabled);
    assert.equal(off.type, EVENT_TYPES.accountDisabled);
    assert.deepEqual(off.subId, { format: 'iss_sub', iss: idp.issuer, sub: bob.sub });
    assert.equal(off.event.initiating_entity, 'admin');
    const change = revocationsOfEvent(
      { type: off.type, subject: off.subId, payload: off.event } as SecurityEvent,
      0,
    );
    assert.deepEqual(change.add, [{ kind: 'subject', value: bob.sub, at: off.event.event_timestamp }]);
    await assert.rejects(signIn(), /wrong username or password/);

    const count = receiver.received.length;
    await idp.disableUser(bob.sub);
    await idp.signalsDelivered();
    assert.equal(receiver.received.length, count, 'disabling a disabled user sends nothing');

    const enabled = receiver.next();
    await idp.enableUser(bob.sub);
    const on = await verified(await enabled);
    assert.equal(on.type, EVENT_TYPES.accountEnabled);
    assert.deepEqual(on.subId, { format: 'iss_sub', iss: idp.issuer, sub: bob.sub });
    await signIn();
  });

  it('revokes its own JWT access token (RFC 7009) by sending tokens-revoked with its jti and exp', async () => {
    const { access_token, clientId } = await tokenWithClient();
    const claims = decodeJwt(access_token);
    const arriving = receiver.next();
    const answer = await revoke(access_token, clientId);
    assert.equal(answer.status, 200);
    const { type, event, subId } = await verified(await arriving);
    assert.equal(type, EVENT_TYPES.tokensRevoked);
    assert.deepEqual(subId, { format: 'opaque', id: claims.jti });
    assert.deepEqual(event.tokens, [{ jti: claims.jti, exp: claims.exp }]);
    const change = revocationsOfEvent({ type, subject: subId, payload: event } as SecurityEvent, 0);
    assert.deepEqual(change.add, [
      { kind: 'jti', value: claims.jti, until: claims.exp, at: event.event_timestamp ?? 0 },
    ]);
  });

  it("does not revoke another client's JWT access token (200, nothing sent)", async () => {
    const { access_token } = await tokenWithClient();
    const other = await tokenWithClient();
    const count = receiver.received.length;
    const answer = await revoke(access_token, other.clientId);
    assert.equal(answer.status, 200);
    await idp.signalsDelivered();
    assert.equal(receiver.received.length, count);
  });

  /** A public client registered here and a user token issued to it. */
  async function tokenWithClient() {
    const registration = await fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      }),
    });
    const { client_id: clientId } = (await registration.json()) as { client_id: string };
    const { access_token } = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: DEMO_USERS.alice.password,
      resource: ORDERS,
      scope: 'orders:read',
      clientId,
      redirectUri: 'http://127.0.0.1/callback',
    });
    return { access_token, clientId };
  }

  function revoke(token: string, clientId: string) {
    return fetch(new URL('/token/revocation', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
  }

  it('refuses to disable a user it does not know', async () => {
    await assert.rejects(idp.disableUser('user-nobody'), TypeError);
  });

  it('signs with the key its JWKS publishes (kid in the header)', async () => {
    const arriving = receiver.next();
    await idp.disableUser(DEMO_USERS.alice.sub);
    const set = await arriving;
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(jwks.keys.some((key) => key.kid === decodeProtectedHeader(set).kid));
    await idp.enableUser(DEMO_USERS.alice.sub);
    await idp.signalsDelivered();
    assert.deepEqual(errors, []);
  });
});

describe('SET delivery retries a receiver that is down, and gives up on one that refuses', () => {
  it('retries after 503 with the same SET until the receiver takes it', async () => {
    const receiver = await startReceiver([{ status: 503 }, { status: 503 }]);
    const errors: unknown[] = [];
    const idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      signals: { receivers: [{ endpoint: receiver.endpoint, audience: AUDIENCE }], retryDelayMs: 5 },
      onError: (error) => errors.push(error),
    });
    try {
      const arriving = receiver.next();
      await idp.disableUser(DEMO_USERS.bob.sub);
      const set = await arriving;
      assert.equal(receiver.received.length, 3);
      assert.ok(
        receiver.received.every((attempt) => attempt === set),
        'one SET, one jti, for every attempt',
      );
      await idp.signalsDelivered();
      assert.deepEqual(errors, []);
    } finally {
      await idp.close();
      await receiver.close();
    }
  });

  it('does not retry a SET the receiver refuses (400 invalid_audience) and reports it', async () => {
    const receiver = await startReceiver([
      { status: 400, body: { err: 'invalid_audience', description: 'no' } },
    ]);
    const errors: unknown[] = [];
    const idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      signals: { receivers: [{ endpoint: receiver.endpoint, audience: AUDIENCE }], retryDelayMs: 5 },
      onError: (error) => errors.push(error),
    });
    try {
      await idp.disableUser(DEMO_USERS.bob.sub);
      await idp.signalsDelivered();
      assert.equal(receiver.received.length, 1);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof SetDeliveryError);
      assert.equal((errors[0] as SetDeliveryError).status, 400);
      assert.match((errors[0] as Error).message, /invalid_audience/);
    } finally {
      await idp.close();
      await receiver.close();
    }
  });

  it('does not follow a redirect to elsewhere: the SET is not delivered there, and it is retried at its receiver', async () => {
    const elsewhere = await startReceiver();
    const receiver = await startReceiver([
      { status: 307, headers: { location: elsewhere.endpoint } },
      { status: 307, headers: { location: elsewhere.endpoint } },
    ]);
    const errors: unknown[] = [];
    const idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      signals: {
        receivers: [{ endpoint: receiver.endpoint, audience: AUDIENCE }],
        retryDelayMs: 1,
        maxAttempts: 2,
      },
      onError: (error) => errors.push(error),
    });
    try {
      await idp.disableUser(DEMO_USERS.bob.sub);
      await idp.signalsDelivered();
      assert.equal(receiver.received.length, 2, 'retried at the configured endpoint');
      assert.equal(elsewhere.received.length, 0, 'never sent where the redirect pointed');
      assert.equal(errors.length, 1, 'given up, not delivered');
      assert.ok(errors[0] instanceof SetDeliveryError);
      assert.equal((errors[0] as SetDeliveryError).status, 307);
      assert.equal((errors[0] as SetDeliveryError).retriable, true);
    } finally {
      await idp.close();
      await receiver.close();
      await elsewhere.close();
    }
  });

  it('gives up after maxAttempts on a receiver that is unreachable and reports it', async () => {
    const receiver = await startReceiver();
    await receiver.close();
    const errors: unknown[] = [];
    const idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      signals: {
        receivers: [{ endpoint: receiver.endpoint, audience: AUDIENCE }],
        retryDelayMs: 1,
        maxAttempts: 3,
      },
      onError: (error) => errors.push(error),
    });
    try {
      await idp.disableUser(DEMO_USERS.bob.sub);
      await idp.signalsDelivered();
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof SetDeliveryError);
      assert.equal((errors[0] as SetDeliveryError).retriable, true);
    } finally {
      await idp.close();
    }
  });
});
