import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { type DemoIdp, OAuthFlowError, obtainUserAccessToken, startDemoIdp } from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';
const BILLING = 'http://127.0.0.1:4200';
const alice = { username: 'alice', password: 'alice-demo-pw' };
const bob = { username: 'bob', password: 'bob-demo-pw' };

describe('user access tokens (RFC 9068 JWTs)', () => {
  let idp: DemoIdp;
  const errors: unknown[] = [];

  before(async () => {
    idp = await startDemoIdp({
      resources: [
        { resource: ORDERS, scopes: ['orders:read', 'orders:write'] },
        { resource: BILLING, scopes: ['billing:read'], accessTokenTtlSeconds: 120 },
      ],
      onError: (error) => errors.push(error),
    });
  });
  after(async () => {
    await idp.close();
    assert.deepEqual(errors, [], 'the IdP reported no server errors');
  });

  it('gives alice a signed at+jwt for exactly the requested resource, with her tenant and roles', async () => {
    const token = await obtainUserAccessToken(idp, {
      ...alice,
      resource: ORDERS,
      scope: 'orders:read orders:write',
    });
    assert.equal(token.token_type, 'Bearer');
    assert.equal(token.expires_in, 600);

    const header = decodeProtectedHeader(token.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<{ kid: string; d?: string }> };
    assert.ok(
      jwks.keys.some((key) => key.kid === header.kid),
      'kid is published',
    );
    assert.ok(
      jwks.keys.every((key) => key.d === undefined),
      'no private key material is published',
    );

    const { payload } = await jwtVerify(token.access_token, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: ORDERS,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    assert.equal(payload.aud, ORDERS, 'aud is the resource itself, not an array');
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.tenant, 'acme');
    assert.deepEqual(payload.roles, ['buyer', 'orders-admin']);
    assert.deepEqual(String(payload.scope).split(' ').sort(), ['orders:read', 'orders:write']);
    assert.equal(typeof payload.client_id, 'string');
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.sid, 'string', 'sid correlates the IdP session');
    assert.equal(payload.exp! - payload.iat!, 600);
  });

  it('uses the client it is given, and puts it in client_id', async () => {
    const registration = await fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'pre-registered',
        redirect_uris: ['http://127.0.0.1:4999/cb'],
        token_endpoint_auth_method: 'none',
        response_types: ['code'],
        grant_types: ['authorization_code'],
      }),
    });
    const { client_id: clientId } = (await registration.json()) as { client_id: string };
    const token = await obtainUserAccessToken(idp, {
      ...alice,
      resource: ORDERS,
      scope: 'orders:read',
      clientId,
      redirectUri: 'http://127.0.0.1:4999/cb',
    });
    assert.equal(decodeJwt(token.access_token).client_id, clientId);
  });

  it('never grants bob more than his allowed scopes', async () => {
    const token = await obtainUserAccessToken(idp, {
      ...bob,
      resource: ORDERS,
      scope: 'orders:read orders:write',
    });
    assert.equal(token.scope, 'orders:read');
    const claims = decodeJwt(token.access_token);
    assert.equal(claims.scope, 'orders:read');
    assert.equal(claims.sub, 'user-bob');
    assert.deepEqual(claims.roles, ['viewer']);
  });

  it('drops scopes the resource does not define, and honours its token lifetime', async () => {
    const token = await obtainUserAccessToken(idp, {
      ...alice,
      resource: BILLING,
      scope: 'billing:read orders:write',
    });
    const claims = decodeJwt(token.access_token);
    assert.equal(claims.scope, 'billing:read');
    assert.equal(claims.aud, BILLING);
    assert.equal(token.expires_in, 120);
  });

  it('matches a resource written with a trailing slash but keeps the configured audience', async () => {
    const token = await obtainUserAccessToken(idp, {
      ...alice,
      resource: `${BILLING}/`,
      scope: 'billing:read',
    });
    assert.equal(decodeJwt(token.access_token).aud, BILLING);
  });

  it('refuses a resource it does not serve with invalid_target', async () => {
    await assert.rejects(
      obtainUserAccessToken(idp, {
        ...alice,
        resource: 'http://127.0.0.1:4300/unknown',
        scope: 'orders:read',
      }),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_target',
    );
  });

  it('also issues an ID token when openid is requested, still with the resource token', async () => {
    const token = await obtainUserAccessToken(idp, {
      ...alice,
      resource: ORDERS,
      scope: 'openid orders:read',
    });
    assert.equal(decodeJwt(token.access_token).aud, ORDERS);
    assert.ok(token.id_token);
    assert.equal(decodeProtectedHeader(token.id_token).alg, 'ES256');
  });
});
