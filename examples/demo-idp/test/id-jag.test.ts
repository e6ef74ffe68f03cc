import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import {
  type DemoIdp,
  generateSigningJwk,
  ID_JAG_DRAFT,
  ID_JAG_TOKEN_TYPE,
  obtainUserAccessToken,
  startDemoIdp,
} from '../src/index.ts';

const AS = 'http://127.0.0.1:4601';
const OTHER_AS = 'http://127.0.0.1:4605';
const RESOURCE = 'http://127.0.0.1:4602/mcp';
const PROFILE = 'http://127.0.0.1:4603/profile';
const REDIRECT_URI = 'http://127.0.0.1/callback';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

const secretOf = (clientId: string) => `${clientId}-secret-at-the-idp-0123456789`;
const exchanger = (clientId: string, confidential = true) => ({
  client_id: clientId,
  ...(confidential
    ? { token_endpoint_auth_method: 'client_secret_post', client_secret: secretOf(clientId) }
    : { token_endpoint_auth_method: 'none' }),
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', TOKEN_EXCHANGE],
  response_types: ['code'],
});

describe('ID-JAG issuance by token exchange (draft-ietf-oauth-identity-assertion-authz-grant)', () => {
  let idp: DemoIdp;
  let idToken: string;
  let accessToken: string;
  let signingJwk: JWK;

  /** An ID token as this IdP signs them, valid in every way the change does not touch. */
  const idTokenWith = async (change: { claims?: Record<string, unknown>; typ?: string } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: idp.issuer,
      sub: 'user-alice',
      aud: 'agent',
      iat: now,
      exp: now + 600,
      auth_time: now,
      ...change.claims,
    };
    return new SignJWT(claims)
      .setProtectedHeader({
        alg: 'ES256',
        kid: signingJwk.kid as string,
        ...(change.typ ? { typ: change.typ } : {}),
      })
      .sign(await importJWK(signingJwk, 'ES256'));
  };

  const ask = async (parameters: Record<string, string>) => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        requested_token_type: ID_JAG_TOKEN_TYPE,
        audience: AS,
        resource: RESOURCE,
        subject_token: idToken,
        subject_token_type: ID_TOKEN_TYPE,
        client_id: 'agent',
        client_secret: secretOf(parameters.client_id ?? 'agent'),
        ...parameters,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  before(async () => {
    signingJwk = (await generateSigningJwk()) as JWK;
    idp = await startDemoIdp({
      signingJwk: signingJwk as never,
      resources: [{ resource: PROFILE, scopes: ['profile:read'] }],
      clients: [
        exchanger('agent'),
        exchanger('other-agent'),
        exchanger('unlisted-agent'),
        exchanger('public-agent', false),
      ],
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          {
            issuer: AS,
            resources: [{ resource: RESOURCE, scopes: ['orders:read'] }],
            clients: ['agent', 'other-agent', 'public-agent'],
          },
          {
            issuer: OTHER_AS,
            resources: [{ resource: 'http://127.0.0.1:4606/billing', scopes: ['billing:read'] }],
            clients: ['agent'],
          },
        ],
        ttlSeconds: 120,
      },
    });
    const signedIn = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: PROFILE,
      scope: 'openid profile:read',
      clientId: 'agent',
      clientSecret: secretOf('agent'),
      redirectUri: REDIRECT_URI,
    });
    idToken = signedIn.id_token!;
    accessToken = signedIn.access_token;
  });
  after(() => idp.close());

  it('issues an explicitly typed ID-JAG for the authorization server, naming the client, person, resource and scope', async () => {
    // As the MCP SDK sends it: the issuer through `new URL`, with a trailing slash.
    const { status, body } = await ask({ audience: `${AS}/`, scope: 'orders:read' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.issued_token_type, ID_JAG_TOKEN_TYPE);
    assert.equal(body.token_type, 'N_A');
    assert.equal(body.expires_in, 120);
    const grant = body.access_token as string;
    assert.equal(decodeProtectedHeader(grant).typ, 'oauth-id-jag+jwt');
    const { payload } = await jwtVerify(grant, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: AS,
      typ: 'oauth-id-jag+jwt',
    });
    assert.equal(payload.aud, AS, 'the configured issuer exactly');
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.client_id, 'agent');
    assert.equal(payload.resource, RESOURCE);
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.tenant, 'acme');
    assert.equal(typeof payload.email, 'string', 'for subject resolution (draft §3)');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((payload.exp as number) - (payload.iat as number), 120);
  });

  it('refuses an ID token issued to another client (its aud is not the requesting client)', async () => {
    const { status, body } = await ask({ client_id: 'other-agent' });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
  });

  it('refuses a public client (draft §7.1: confidential clients only)', async () => {
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        requested_token_type: ID_JAG_TOKEN_TYPE,
        audience: AS,
        subject_token: idToken,
        subject_token_type: ID_TOKEN_TYPE,
        client_id: 'public-agent',
      }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'unauthorized_client');
  });

  it('advertises the ID-JAG token type in its metadata (identity_chaining_requested_token_types_supported)', async () => {
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(metadata.identity_chaining_requested_token_types_supported, [ID_JAG_TOKEN_TYPE]);
    assert.ok((metadata.grant_types_supported as string[]).includes(TOKEN_EXCHANGE));
  });

  it('refuses an access token presented as the ID token', async () => {
    const { body } = await ask({ subject_token: accessToken });
    assert.equal(body.error, 'invalid_grant');
  });

  it('refuses a subject token of another type', async () => {
    const { body } = await ask({ subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    assert.equal(body.error, 'invalid_request');
  });

  it('refuses a resource not behind that authorization server', async () => {
    const { body } = await ask({ resource: PROFILE });
    assert.equal(body.error, 'invalid_target');
  });

  it('refuses an authorization server the administrator did not configure', async () => {
    const { body } = await ask({ audience: 'http://127.0.0.1:4609' });
    assert.equal(body.error, 'invalid_target');
  });

  it('refuses a scope the resource may not be granted', async () => {
    const { body } = await ask({ scope: 'orders:read orders:delete' });
    assert.equal(body.error, 'invalid_scope');
  });

  it('refuses an ID-JAG to a self-registered client the administrator has not allowed for that authorization server', async () => {
    // Open registration (RFC 7591) cannot give a client the token-exchange grant …
    const registered = await fetch(`${idp.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', TOKEN_EXCHANGE],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      }),
    });
    assert.equal(registered.status, 400);
    const refusal = (await registered.json()) as { error: string; error_description: string };
    assert.equal(refusal.error, 'invalid_client_metadata');
    assert.match(refusal.error_description, /token exchange is granted by the operator/);
    // … and a client the operator configured is still refused for a server that does not list it.
    const { status, body } = await ask({ client_id: 'unlisted-agent', scope: 'orders:read' });
    assert.equal(status, 400);
    assert.equal(body.error, 'unauthorized_client');
    assert.match(String(body.error_description), /has not allowed this client/);
  });

  it('refuses scopes the authorization server is not configured for', async () => {
    // The IdP's own resource scope, another server's scope, a scope configured nowhere.
    for (const scope of ['profile:read', 'billing:read', 'orders:admin']) {
      const { status, body } = await ask({ resource: '', scope: `orders:read ${scope}` });
      assert.equal(status, 400, scope);
      assert.equal(body.error, 'invalid_scope', scope);
    }
    // None asked: exactly the server's configured scopes, nothing of the IdP's or another server's.
    const { status, body } = await ask({ resource: '' });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.scope, 'orders:read');
  });

  it('issues an ID-JAG for an ID token signed as this IdP signs them (the forged-token tests’ control)', async () => {
    const { status, body } = await ask({ subject_token: await idTokenWith() });
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('refuses a token of this IdP with an explicit type other than JWT (an access token, ID-JAG or SET)', async () => {
    for (const typ of ['at+jwt', 'oauth-id-jag+jwt', 'secevent+jwt']) {
      const { body } = await ask({ subject_token: await idTokenWith({ typ }) });
      assert.equal(body.error, 'invalid_grant', typ);
      assert.equal(body.error_description, 'subject_token is not an ID token', typ);
    }
  });

  it('refuses an ID token whose azp names another client', async () => {
    const { body } = await ask({
      subject_token: await idTokenWith({ claims: { aud: ['agent', 'other-agent'], azp: 'other-agent' } }),
    });
    assert.equal(body.error, 'invalid_grant');
    assert.match(String(body.error_description), /azp/);
  });

  it('refuses an ID token with several audiences and no azp', async () => {
    const { body } = await ask({
      subject_token: await idTokenWith({ claims: { aud: ['agent', 'other-agent'] } }),
    });
    assert.equal(body.error, 'invalid_grant');
    assert.match(String(body.error_description), /azp/);
  });

  it('refuses an ID token issued longer ago than the ID token lifetime (iat), even if it has not expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { body } = await ask({
      subject_token: await idTokenWith({ claims: { iat: now - 700, exp: now + 300, auth_time: now - 700 } }),
    });
    assert.equal(body.error, 'invalid_grant');
  });

  it('refuses an ID token recording a sign-in older than the ID token lifetime (auth_time)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { body } = await ask({ subject_token: await idTokenWith({ claims: { auth_time: now - 3600 } }) });
    assert.equal(body.error, 'invalid_grant');
    assert.match(String(body.error_description), /auth_time/);
  });

  it('refuses an ID token without auth_time (one a refresh token issued)', async () => {
    // A refresh token grant issues ID tokens with a fresh `iat`: only `auth_time` dates the sign-in.
    const { body } = await ask({ subject_token: await idTokenWith({ claims: { auth_time: undefined } }) });
    assert.equal(body.error, 'invalid_grant');
    assert.equal(
      body.error_description,
      'subject_token does not record when the person signed in (auth_time)',
    );
  });

  it('refuses a disabled person', async () => {
    await idp.disableUser('user-alice');
    try {
      const { body } = await ask({});
      assert.equal(body.error, 'invalid_grant');
    } finally {
      await idp.enableUser('user-alice');
    }
  });
});

describe('ID-JAG issuance and refresh tokens', () => {
  let idp: DemoIdp;
  before(async () => {
    idp = await startDemoIdp({
      resources: [{ resource: PROFILE, scopes: ['profile:read'] }],
      clients: [
        { ...exchanger('agent'), grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE] },
      ],
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          { issuer: AS, resources: [{ resource: RESOURCE, scopes: ['orders:read'] }], clients: ['agent'] },
        ],
        maxIdTokenAgeSeconds: 2,
      },
    });
  });
  after(() => idp.close());

  it('refuses an ID token a refresh token issued once the sign-in it rests on is too old (fresh iat, old auth_time)', async () => {
    const signedIn = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: PROFILE,
      scope: 'openid offline_access profile:read',
      prompt: 'consent',
      clientId: 'agent',
      clientSecret: secretOf('agent'),
      redirectUri: REDIRECT_URI,
    });
    assert.ok(signedIn.refresh_token, 'offline_access granted');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const refreshed = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: signedIn.refresh_token,
        resource: PROFILE,
        client_id: 'agent',
        client_secret: secretOf('agent'),
      }),
    });
    const { id_token: idToken } = (await refreshed.json()) as { id_token?: string };
    assert.ok(idToken, 'the refresh token grant issues a new ID token');
    // Both carry `auth_time` (the IdP maps it to `openid`): the refreshed one the original sign-in's.
    const first = decodeJwt(signedIn.id_token!);
    const renewed = decodeJwt(idToken);
    assert.equal(typeof first.auth_time, 'number');
    assert.equal(renewed.auth_time, first.auth_time);
    assert.ok(renewed.iat! > first.iat!, 'a fresh iat');
    const response = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        requested_token_type: ID_JAG_TOKEN_TYPE,
        audience: AS,
        resource: RESOURCE,
        subject_token: idToken,
        subject_token_type: ID_TOKEN_TYPE,
        client_id: 'agent',
        client_secret: secretOf('agent'),
      }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    // No body in the message: on failure it holds an ID-JAG.
    assert.equal(response.status, 400);
    assert.equal(body.error, 'invalid_grant');
    assert.match(String(body.error_description), /auth_time/);
  });
});
