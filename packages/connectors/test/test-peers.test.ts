import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DemoIdp, generateSigningJwk, startDemoIdp } from '@baton/demo-idp';
import { type JWK, SignJWT } from 'jose';
import { JWT_BEARER_GRANT } from '../src/index.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateTestKey, type TestKey } from './fixtures/keys.ts';
import { startOboTestPlatform } from './fixtures/obo-test-platform.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';
import { ORDERS_APP } from './fixtures/upstream-idp.ts';

/** POSTs a raw token request, as no connector would, and returns status and body. */
async function post(tokenEndpoint: string, parameters: Record<string, string>) {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(parameters),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function sign(key: JWK, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid! }).sign(key);
}

describe('JWT bearer test platform: assertion checks a connector cannot trip', () => {
  let platform: TestPlatform;
  let a: TestKey;
  let b: TestKey;
  const now = () => Math.floor(Date.now() / 1000);
  const valid = () => ({
    iss: 'client-a',
    sub: 'alice@platform.example',
    aud: platform.tokenEndpoint,
    iat: now(),
    exp: now() + 60,
    jti: crypto.randomUUID(),
  });
  const grant = async (key: JWK, claims: Record<string, unknown>, clientId = 'client-a') =>
    post(platform.tokenEndpoint, {
      grant_type: JWT_BEARER_GRANT,
      client_id: clientId,
      assertion: await sign(key, claims),
    });

  before(async () => {
    [a, b] = await Promise.all([generateTestKey(), generateTestKey()]);
    platform = await startJwtBearerTestPlatform({
      clients: [
        { clientId: 'client-a', jwks: { keys: [a.publicJwk] } },
        { clientId: 'client-b', jwks: { keys: [b.publicJwk] } },
      ],
      users: { 'alice@platform.example': '005-alice' },
    });
  });
  after(() => platform.close());

  it('issues for a valid assertion', async () => {
    const { status, body } = await grant(a.privateJwk, valid());
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('refuses an assertion issued by another registered client', async () => {
    const { body } = await grant(b.privateJwk, { ...valid(), iss: 'client-b' });
    assert.deepEqual(body, {
      error: 'invalid_grant',
      error_description: 'assertion signature does not verify with the trusted keys',
    });
    const own = await grant(b.privateJwk, { ...valid(), iss: 'client-b' }, 'client-b');
    assert.equal(own.status, 200, 'the same assertion is fine from its own client');
    const claimed = await grant(a.privateJwk, { ...valid(), iss: 'client-b' });
    assert.equal(claimed.body.error_description, 'assertion issuer is not trusted here');
  });

  it('refuses assertions outside the time window, or without the claims it needs', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...valid(), exp: now() + 3600 }, 'assertion lifetime exceeds 300 seconds'],
      [{ ...valid(), iat: now() - 600, exp: now() + 60 }, 'assertion is not yet valid, or too old'],
      [{ ...valid(), iat: now() + 120, exp: now() + 180 }, 'assertion is not yet valid, or too old'],
      [{ ...valid(), exp: now() - 60, iat: now() - 120 }, 'assertion has expired'],
      [{ ...valid(), jti: undefined }, 'assertion lacks the jti claim'],
      [{ ...valid(), sub: undefined }, 'assertion lacks the sub claim'],
    ];
    for (const [claims, description] of cases) {
      const { status, body } = await grant(a.privateJwk, claims);
      assert.equal(status, 400);
      assert.deepEqual(body, { error: 'invalid_grant', error_description: description });
    }
  });

  it('requires an assertion, and refuses a client it does not know', async () => {
    const missing = await post(platform.tokenEndpoint, {
      grant_type: JWT_BEARER_GRANT,
      client_id: 'client-a',
    });
    assert.equal(missing.body.error, 'invalid_request');
    const unknown = await grant(a.privateJwk, valid(), 'client-z');
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error, 'invalid_client');
  });
});

describe('on-behalf-of test platform: request checks a connector cannot trip', () => {
  let idp: DemoIdp;
  let upstreamKey: JWK;
  let platform: TestPlatform;
  const secret = 'peer-test-secret';
  const userToken = (claims: Record<string, unknown>) =>
    new SignJWT({ scope: 'orders:read', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: upstreamKey.kid!, typ: 'at+jwt' })
      .sign(upstreamKey);
  const valid = () => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: idp.issuer, sub: 'user-alice', aud: ORDERS_APP, iat: now, exp: now + 300 };
  };
  const obo = (parameters: Record<string, string>) =>
    post(platform.tokenEndpoint, {
      grant_type: JWT_BEARER_GRANT,
      client_id: 'orders-mcp',
      client_secret: secret,
      requested_token_use: 'on_behalf_of',
      scope: 'files:read',
      ...parameters,
    });

  before(async () => {
    // The demo IdP signs with a key the test holds, so it can mint tokens valid in every way but one.
    upstreamKey = (await generateSigningJwk()) as JWK;
    idp = await startDemoIdp({
      resources: [{ resource: ORDERS_APP, scopes: ['orders:read'] }],
      signingJwk: upstreamKey as never,
    });
    platform = await startOboTestPlatform({
      trustedIssuer: { issuer: idp.issuer, jwksUri: idp.jwksUri },
      clients: [
        {
          clientId: 'orders-mcp',
          authentication: 'client_secret_post',
          clientSecret: secret,
          audiences: [ORDERS_APP],
        },
      ],
    });
  });
  after(async () => {
    await platform.close();
    await idp.close();
  });

  it('issues for a valid request, to the same user', async () => {
    const { status, body } = await obo({ assertion: await userToken(valid()) });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal((await platform.verifyAccessToken(String(body.access_token))).sub, 'user-alice');
  });

  it('requires requested_token_use=on_behalf_of, an assertion and a scope', async () => {
    const assertion = await userToken(valid());
    const requests: Array<Record<string, string>> = [
      { assertion, requested_token_use: '' },
      { assertion, requested_token_use: 'something_else' },
      { assertion: '' },
      { assertion, scope: '' },
    ];
    for (const parameters of requests) {
      const { status, body } = await obo(parameters);
      assert.equal(status, 400);
      assert.equal(body.error, 'invalid_request', JSON.stringify(parameters));
    }
  });

  it('refuses expired, foreign-issuer and client-named-elsewhere assertions', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...valid(), iat: now - 600, exp: now - 300 }, 'assertion has expired'],
      [{ ...valid(), iss: 'https://elsewhere.example' }, 'assertion issuer is not trusted here'],
      [{ ...valid(), aud: 'api://someone-else' }, 'assertion audience is not the expected one'],
    ];
    for (const [claims, description] of cases) {
      const { body } = await obo({ assertion: await userToken(claims) });
      assert.deepEqual(body, { error: 'invalid_grant', error_description: description });
    }
  });
});
