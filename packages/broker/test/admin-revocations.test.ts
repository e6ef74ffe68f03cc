import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registerService, serviceCredentials } from '@baton/broker-client';
import { SignJWT } from 'jose';
import { adminAuthentication } from '../src/endpoints/admin-authentication.ts';
import { serviceClient } from './fixtures/service-client.ts';
import { type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

const ADMIN_PATH = '/admin/revocations';
const ADMIN_SECRET = 'a-long-random-client-secret-for-the-ops-robot-0123456789';

describe('the revocation admin API (/admin/revocations)', () => {
  let stack: BrokerStack;
  let admin: Awaited<ReturnType<typeof serviceClient>>;
  let audience: string;

  before(async () => {
    admin = await serviceClient('ops-admin', []);
    stack = await startBrokerStack({ adminClients: ['ops-admin', 'ops-robot'] }, [
      admin.metadata,
      {
        client_id: 'ops-robot',
        client_secret: ADMIN_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ]);
    audience = `${stack.broker.issuer}${ADMIN_PATH}`;
  });
  after(() => stack.close());

  async function call(
    path: string,
    options: { method?: string; assertion?: string | null; body?: unknown; contentType?: string } = {},
  ) {
    const assertion = options.assertion === undefined ? await admin.assertion(audience) : options.assertion;
    const response = await fetch(`${stack.broker.issuer}${path}`, {
      method: options.method ?? 'POST',
      headers: {
        ...(assertion !== null ? { authorization: `Bearer ${assertion}` } : {}),
        ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
      cache: response.headers.get('cache-control'),
      body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    };
  }

  it('revokes a subject, lists it, lifts it; audited with the admin client as actor', async () => {
    const subject = `user-${randomUUID()}`;
    const revoked = await call(ADMIN_PATH, { body: { subject, reason: 'offboarded' } });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.deepEqual(revoked.body, { covered: 0, revocations: 1 });
    assert.equal(revoked.cache, 'no-store');
    const event = stack.audit.events.at(-1)!;
    assert.equal(event.action, 'revocation');
    assert.equal(event.initiator.sub, 'ops-admin');
    assert.deepEqual(event.revocation, { kind: 'subject', note: 'offboarded', covered: 0 });

    const listed = await call(ADMIN_PATH, { method: 'GET' });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.revocations, [{ kind: 'subject', value: subject }]);

    const lifted = await call(`${ADMIN_PATH}/lift`, { body: { subject } });
    assert.deepEqual(lifted.body, { lifted: true });
    // Enabled again from the lift on: the tokens issued before it stay refused (a cut-off, listed).
    const after = (await call(ADMIN_PATH, { method: 'GET' })).body.revocations as Array<
      Record<string, unknown>
    >;
    assert.deepEqual(
      after.map(({ kind, value }) => ({ kind, value })),
      [{ kind: 'subject', value: subject }],
    );
    assert.equal(typeof after[0]?.before, 'number');
    assert.deepEqual((await call(`${ADMIN_PATH}/lift`, { body: { subject } })).body, { lifted: false });
  });

  it('revokes by session, client, root and jti, and a subject before an instant', async () => {
    for (const body of [
      { session: `sid-${randomUUID()}` },
      { client: `agent-${randomUUID()}` },
      { root: `${stack.idp.issuer}#${randomUUID()}` },
      { jti: randomUUID() },
      { subject: `user-${randomUUID()}`, before: Math.floor(Date.now() / 1000) },
    ]) {
      const answer = await call(ADMIN_PATH, { body });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.covered, 0);
    }
  });

  it('accepts a client_secret_jwt assertion from an admin client configured with a secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('ops-robot')
      .setSubject('ops-robot')
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(ADMIN_SECRET));
    assert.equal((await call(ADMIN_PATH, { method: 'GET', assertion })).status, 200);
  });

  it('refuses a request without credentials: 401 with a Bearer challenge and no error code', async () => {
    const answer = await call(ADMIN_PATH, { assertion: null, body: { subject: 'x' } });
    assert.equal(answer.status, 401);
    assert.match(String(answer.challenge), /^Bearer realm="/);
    assert.doesNotMatch(String(answer.challenge), /error=/);
  });

  it('refuses a static client that is not an administrator (403), even with a valid assertion', async () => {
    const answer = await call(ADMIN_PATH, {
      method: 'GET',
      assertion: await stack.stranger.assertion(audience),
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'insufficient_scope');
    assert.match(String(answer.challenge), /error="insufficient_scope"/);
  });

  it('refuses a dynamically registered client: it can never administer', async () => {
    const credentials = await serviceCredentials('ignored');
    const registered = await registerService({
      registrationEndpoint: `${stack.broker.issuer}/reg`,
      initialAccessToken: 'test-initial-access-token',
      clientName: 'would-be admin',
      jwks: credentials.jwks,
      resources: [],
    });
    const impostor = await serviceCredentials(registered.client_id, undefined);
    const answer = await call(ADMIN_PATH, { method: 'GET', assertion: await impostor.assertion(audience) });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
  });

  it("refuses an admin's assertion made for the token endpoint (another audience)", async () => {
    const answer = await call(ADMIN_PATH, {
      method: 'GET',
      assertion: await admin.assertion(stack.broker.issuer),
    });
    assert.equal(answer.status, 401);
    assert.match(String(answer.challenge), /error="invalid_token"/);
  });

  it('refuses a replayed admin assertion', async () => {
    const assertion = await admin.assertion(audience);
    assert.equal((await call(ADMIN_PATH, { method: 'GET', assertion })).status, 200);
    const replayed = await call(ADMIN_PATH, { method: 'GET', assertion });
    assert.equal(replayed.status, 401);
    assert.equal(replayed.body.error, 'invalid_token');
  });

  it("refuses an assertion in the admin's name signed with another key", async () => {
    const forger = await serviceCredentials('ops-admin');
    const answer = await call(ADMIN_PATH, { method: 'GET', assertion: await forger.assertion(audience) });
    assert.equal(answer.status, 401);
  });

  it('refuses a malformed body with 400 invalid_request and a description, revoking nothing', async () => {
    const events = stack.audit.events.length;
    for (const [body, contentType] of [
      ['not json', 'application/json'],
      [{ subject: 'x' }, 'application/x-www-form-urlencoded'],
      [[{ subject: 'x' }], 'application/json'],
      [{}, 'application/json'],
      [{ subject: 'x', client: 'y' }, 'application/json'],
      [{ client: 'y', before: 1 }, 'application/json'],
      [{ subject: 'x', before: 'yesterday' }, 'application/json'],
      [{ subject: '' }, 'application/json'],
      [{ subject: 'x', token: 'eyJ...' }, 'application/json'],
    ] as const) {
      const answer = await call(ADMIN_PATH, { body, contentType });
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.body.error, 'invalid_request');
      assert.ok(String(answer.body.error_description).length > 0);
    }
    const lift = await call(`${ADMIN_PATH}/lift`, { body: { jti: 'x' } });
    assert.equal(lift.status, 400);
    assert.equal(stack.audit.events.length, events);
  });

  it('answers 405 with Allow for other methods', async () => {
    const answer = await call(ADMIN_PATH, { method: 'PUT', body: { subject: 'x' } });
    assert.equal(answer.status, 405);
    assert.equal((await call(`${ADMIN_PATH}/lift`, { method: 'GET' })).status, 405);
  });
});

describe('admin clients are checked when the broker starts', () => {
  const unique = async () => true;
  it('refuses an admin client id that is not a static client', () => {
    assert.throws(
      () =>
        adminAuthentication({ audience: 'https://b/admin', clients: [], admins: ['not-configured'], unique }),
      /not a static client/,
    );
  });
  it('refuses an admin client without inline keys or a secret to verify it by', () => {
    assert.throws(
      () =>
        adminAuthentication({
          audience: 'https://b/admin',
          clients: [{ client_id: 'ops', jwks_uri: 'https://ops.example/jwks' }],
          admins: ['ops'],
          unique,
        }),
      /neither inline jwks nor a client_secret/,
    );
  });
});
