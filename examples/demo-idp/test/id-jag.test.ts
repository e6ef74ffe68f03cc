import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  type DemoIdp,
  ID_JAG_DRAFT,
  ID_JAG_TOKEN_TYPE,
  obtainUserAccessToken,
  startDemoIdp,
} from '../src/index.ts';

const AS = 'http://127.0.0.1:4601';
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
    idp = await startDemoIdp({
      resources: [{ resource: PROFILE, scopes: ['profile:read'] }],
      clients: [exchanger('agent'), exchanger('other-agent'), exchanger('public-agent', false)],
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          { issuer: AS, resources: [{ resource: RESOURCE, scopes: ['orders:read'] }] },
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
