import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { type JwtBearerConnectorOptions, jwtBearerConnector } from '../src/index.ts';
import { expectConnectorError } from './fixtures/expect-connector-error.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateRsaTestKey, generateTestKey, type TestKey } from './fixtures/keys.ts';
import { startRecordingProxy } from './fixtures/recording-proxy.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';
import { startSilentServer, unreachableTokenEndpoint } from './fixtures/unreachable.ts';

const alice = { sub: 'user-alice', tenant: 'acme' };
const bob = { sub: 'user-bob', tenant: 'acme' };
const ghost = { sub: 'user-ghost', tenant: 'acme' };
const stranger = { sub: 'user-stranger', tenant: 'acme' };
/** Baton subject → platform username. The ghost maps to a username the platform does not know. */
const MAPPING = {
  'user-alice': 'alice@platform.example',
  'user-bob': 'bob@platform.example',
  'user-ghost': 'ghost@platform.example',
};
const PLATFORM_USERS = { 'alice@platform.example': '005-alice', 'bob@platform.example': '005-bob' };

describe('jwtBearerConnector (RFC 7523 §2.1) against a JWT bearer test platform', () => {
  let platform: TestPlatform;
  let key: TestKey;
  let clientAuthKey: TestKey;
  let rsa: Awaited<ReturnType<typeof generateRsaTestKey>>;
  const serverErrors: unknown[] = [];

  before(async () => {
    key = await generateTestKey();
    clientAuthKey = await generateTestKey();
    rsa = await generateRsaTestKey('rsa-1');
    platform = await startJwtBearerTestPlatform({
      clients: [
        { clientId: 'baton', jwks: { keys: [key.publicJwk] } },
        { clientId: 'baton-rsa', jwks: { keys: [rsa.publicJwk] } },
        {
          clientId: 'baton-pkjwt',
          jwks: { keys: [key.publicJwk, clientAuthKey.publicJwk] },
          authentication: 'private_key_jwt',
        },
      ],
      users: PLATFORM_USERS,
      onError: (error) => serverErrors.push(error),
    });
  });
  after(async () => {
    await platform.close();
    assert.deepEqual(serverErrors, [], 'the platform reported no server errors');
  });

  const connector = (overrides: Partial<JwtBearerConnectorOptions> = {}) =>
    jwtBearerConnector({
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'baton',
      privateKey: key.privateJwk,
      identityMapping: MAPPING,
      ...overrides,
    });

  it('returns a platform token that belongs to the mapped platform user', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await connector().token({ user: alice, scopes: ['api'] });
    const claims = await platform.verifyAccessToken(token.accessToken);
    assert.equal(claims.sub, '005-alice', "the platform's own account id for alice@platform.example");
    assert.equal(claims.client_id, 'baton');
    assert.equal(claims.scope, 'api');
    assert.equal(token.scope, 'api');
    assert.ok(
      token.expiresAt >= before + 600 && token.expiresAt <= before + 602,
      'expiresAt from expires_in',
    );
  });

  it('accepts the issuer as assertion audience, Salesforce style, and a mapping function', async () => {
    const token = await connector({
      audience: platform.issuer,
      identityMapping: (user) => (user.sub === 'user-bob' ? 'bob@platform.example' : undefined),
    }).token({ user: bob, scopes: ['api', 'reports:read'] });
    const claims = await platform.verifyAccessToken(token.accessToken);
    assert.equal(claims.sub, '005-bob');
    assert.equal(claims.scope, 'api reports:read');
  });

  it("after a user's identity mapping changes, the token of the previous platform identity is not served", async () => {
    let mapped = 'alice@platform.example';
    const c = connector({ identityMapping: (user) => (user.sub === 'user-alice' ? mapped : undefined) });
    const first = await c.token({ user: alice, scopes: ['api'] });
    assert.equal((await platform.verifyAccessToken(first.accessToken)).sub, '005-alice');
    const sent = platform.tokenRequests.length;
    assert.equal((await c.token({ user: alice, scopes: ['api'] })).accessToken, first.accessToken, 'cached');
    assert.equal(platform.tokenRequests.length, sent);

    mapped = 'bob@platform.example';
    const remapped = await c.token({ user: alice, scopes: ['api'] });
    assert.notEqual(remapped.accessToken, first.accessToken);
    assert.equal((await platform.verifyAccessToken(remapped.accessToken)).sub, '005-bob');
    assert.equal(platform.tokenRequests.length, sent + 1);
  });

  it('signs RS256 assertions with an RSA KeyObject', async () => {
    const token = await connector({
      clientId: 'baton-rsa',
      privateKey: rsa.privateKey,
      keyId: 'rsa-1',
    }).token({
      user: alice,
      scopes: ['api'],
    });
    assert.equal((await platform.verifyAccessToken(token.accessToken)).sub, '005-alice');
  });

  it('authenticates the client with private_key_jwt when configured', async () => {
    const token = await connector({
      clientId: 'baton-pkjwt',
      clientAuthentication: { method: 'private_key_jwt', privateKey: clientAuthKey.privateJwk },
    }).token({ user: alice, scopes: ['api'] });
    const claims = await platform.verifyAccessToken(token.accessToken);
    assert.equal(claims.sub, '005-alice');
    assert.equal(claims.client_id, 'baton-pkjwt');
  });

  it('sends a short-lived, single-use assertion naming the platform user', async () => {
    const proxy = await startRecordingProxy(platform.tokenEndpoint);
    try {
      const sent = platform.tokenRequests.length;
      await connector({ tokenEndpoint: proxy.tokenEndpoint, audience: platform.tokenEndpoint }).token({
        user: alice,
        scopes: ['api'],
      });
      const body = new URLSearchParams(proxy.bodies[0]);
      assert.equal(body.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
      assert.equal(body.get('client_id'), 'baton');
      assert.equal(body.get('scope'), 'api');
      const assertion = decodeJwt(body.get('assertion')!);
      assert.equal(assertion.iss, 'baton');
      assert.equal(assertion.sub, 'alice@platform.example');
      assert.equal(assertion.aud, platform.tokenEndpoint);
      assert.ok(typeof assertion.jti === 'string' && assertion.jti.length > 0);
      assert.ok(assertion.exp! - assertion.iat! <= 300);
      assert.equal(platform.tokenRequests.length, sent + 1);
    } finally {
      await proxy.close();
    }
  });

  it('forwards traceparent to the platform', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await connector().token({ user: bob, scopes: ['api'], traceparent });
    assert.equal(platform.tokenRequests.at(-1)?.traceparent, traceparent);
  });

  it('refuses an unmapped user without sending anything to the platform', async () => {
    const sent = platform.tokenRequests.length;
    await expectConnectorError(
      connector().token({ user: stranger, scopes: ['api'] }),
      'ERR_CONNECTOR_IDENTITY_UNMAPPED',
    );
    await expectConnectorError(
      connector({ identityMapping: () => undefined }).token({ user: alice, scopes: ['api'] }),
      'ERR_CONNECTOR_IDENTITY_UNMAPPED',
    );
    await expectConnectorError(
      connector({ identityMapping: new Map([['user-bob', 'bob@platform.example']]) }).token({
        user: alice,
        scopes: [],
      }),
      'ERR_CONNECTOR_IDENTITY_UNMAPPED',
    );
    // A plain-object mapping is read by own keys only.
    for (const sub of ['constructor', '__proto__', 'toString']) {
      await expectConnectorError(
        connector().token({ user: { sub, tenant: null }, scopes: ['api'] }),
        'ERR_CONNECTOR_IDENTITY_UNMAPPED',
      );
    }
    assert.equal(platform.tokenRequests.length, sent, 'no request reached the platform');
  });

  it('surfaces an unknown platform user as invalid_grant', async () => {
    const error = await expectConnectorError(
      connector().token({ user: ghost, scopes: ['api'] }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.equal(error.status, 400);
    assert.equal(error.oauthErrorDescription, 'assertion subject is not a known platform user');
  });

  it('surfaces an assertion signed with a key the platform does not hold as invalid_grant', async () => {
    const wrongKey = await generateTestKey();
    const error = await expectConnectorError(
      connector({ privateKey: wrongKey.privateJwk }).token({ user: alice, scopes: ['api'] }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.match(error.oauthErrorDescription ?? '', /signature/);
  });

  it('surfaces an assertion for another audience as invalid_grant', async () => {
    const error = await expectConnectorError(
      connector({ audience: 'https://login.other-platform.example' }).token({ user: alice, scopes: ['api'] }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_grant',
    );
    assert.match(error.oauthErrorDescription ?? '', /audience/);
  });

  it('surfaces an expired assertion (platform clock ten minutes ahead) as invalid_grant', async () => {
    const skewed = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton', jwks: { keys: [key.publicJwk] } }],
      users: PLATFORM_USERS,
      clockOffsetSeconds: 600,
    });
    try {
      const error = await expectConnectorError(
        connector({ tokenEndpoint: skewed.tokenEndpoint }).token({ user: alice, scopes: ['api'] }),
        'ERR_CONNECTOR_REFUSED',
        'invalid_grant',
      );
      assert.equal(error.oauthErrorDescription, 'assertion has expired');
    } finally {
      await skewed.close();
    }
  });

  it('an assertion captured on the way is refused when replayed (jti)', async () => {
    const proxy = await startRecordingProxy(platform.tokenEndpoint);
    try {
      await connector({ tokenEndpoint: proxy.tokenEndpoint, audience: platform.tokenEndpoint }).token({
        user: alice,
        scopes: ['api'],
      });
      const replay = await fetch(platform.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: proxy.bodies[0],
      });
      assert.equal(replay.status, 400);
      assert.deepEqual(await replay.json(), {
        error: 'invalid_grant',
        error_description: 'assertion jti has already been used',
      });
    } finally {
      await proxy.close();
    }
  });

  it('surfaces a scope the platform does not offer as invalid_scope', async () => {
    await expectConnectorError(
      connector().token({ user: alice, scopes: ['admin'] }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_scope',
    );
  });

  it('surfaces a client the platform does not know as invalid_client', async () => {
    const error = await expectConnectorError(
      connector({ clientId: 'nobody' }).token({ user: alice, scopes: ['api'] }),
      'ERR_CONNECTOR_REFUSED',
      'invalid_client',
    );
    assert.equal(error.status, 401);
  });

  it('reports a platform that is down as unavailable', async () => {
    const tokenEndpoint = await unreachableTokenEndpoint();
    const error = await expectConnectorError(
      connector({ tokenEndpoint }).token({ user: alice, scopes: ['api'] }),
      'ERR_CONNECTOR_UNAVAILABLE',
    );
    assert.equal(error.status, undefined);
  });

  it('reports a platform that does not answer in time as unavailable', async () => {
    const silent = await startSilentServer();
    try {
      const error = await expectConnectorError(
        connector({ tokenEndpoint: silent.tokenEndpoint, timeoutMs: 200 }).token({
          user: alice,
          scopes: ['api'],
        }),
        'ERR_CONNECTOR_UNAVAILABLE',
      );
      assert.match(error.message, /200 ms/);
    } finally {
      await silent.close();
    }
  });

  it('refuses unusable configuration when the connector is built', () => {
    const { d: _private, ...publicOnly } = key.privateJwk;
    assert.throws(() => connector({ privateKey: publicOnly }), /private JWK/);
    assert.throws(() => connector({ privateKey: { ...key.privateJwk, alg: 'RS256' } }), /ES256/);
    assert.throws(() => connector({ tokenEndpoint: 'http://platform.example/token' }), /https/);
    assert.throws(() => connector({ assertionLifetimeSeconds: 3600 }), /at most 300/);
    assert.throws(() => connector({ identityMapping: undefined as never }), /identityMapping is required/);
  });
});
