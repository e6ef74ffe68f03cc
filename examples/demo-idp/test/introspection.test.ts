import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '../src/index.ts';

const OPAQUE = 'http://127.0.0.1:4400/orders';
const JWT = 'http://127.0.0.1:4500/mcp';
const RESOURCE_SERVER = { id: 'orders-mcp', secret: 'orders-mcp-secret' };

describe('introspection (RFC 7662)', () => {
  let idp: DemoIdp;

  before(async () => {
    idp = await startDemoIdp({
      resources: [
        { resource: OPAQUE, scopes: ['orders:read', 'orders:write'], accessTokenFormat: 'opaque' },
        { resource: JWT, scopes: ['orders:read'] },
      ],
      clients: [
        {
          client_id: RESOURCE_SERVER.id,
          client_secret: RESOURCE_SERVER.secret,
          grant_types: [],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
    });
  });
  after(() => idp.close());

  async function introspect(token: string, client: { id: string; secret: string }) {
    const response = await fetch(new URL('/token/introspection', idp.issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa(`${client.id}:${client.secret}`)}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('issues an opaque token that the resource server introspects as active', async () => {
    const token = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: OPAQUE,
      scope: 'orders:read orders:write',
    });
    assert.equal(token.access_token.split('.').length, 1, 'not a JWT');

    const { status, body } = await introspect(token.access_token, RESOURCE_SERVER);
    assert.equal(status, 200);
    assert.equal(body.active, true);
    assert.equal(body.sub, 'user-alice');
    assert.equal(typeof body.client_id, 'string');
    assert.notEqual(body.client_id, RESOURCE_SERVER.id);
    assert.equal(body.aud, OPAQUE);
    assert.deepEqual(String(body.scope).split(' ').sort(), ['orders:read', 'orders:write']);
    assert.equal(body.iss, idp.issuer);
    assert.equal(body.tenant, 'acme');
    assert.deepEqual(body.roles, ['buyer', 'orders-admin']);
    assert.equal(typeof body.sid, 'string', 'the same session claim a JWT carries');
  });

  it('reports a garbage token as inactive and nothing more', async () => {
    const { status, body } = await introspect('not-a-token', RESOURCE_SERVER);
    assert.equal(status, 200);
    assert.deepEqual(body, { active: false });
  });

  it('rejects a caller with the wrong secret', async () => {
    const { status, body } = await introspect('not-a-token', { id: RESOURCE_SERVER.id, secret: 'wrong' });
    assert.equal(status, 401);
    assert.equal(body.error, 'invalid_client');
  });

  it('does not let a dynamically registered client introspect other clients’ tokens', async () => {
    const token = await obtainUserAccessToken(idp, {
      username: 'bob',
      password: 'bob-demo-pw',
      resource: OPAQUE,
      scope: 'orders:read',
    });
    const registration = await fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [],
        response_types: [],
        grant_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    });
    const stranger = (await registration.json()) as { client_id: string; client_secret: string };
    assert.ok(stranger.client_secret);

    const { body } = await introspect(token.access_token, {
      id: stranger.client_id,
      secret: stranger.client_secret,
    });
    assert.deepEqual(body, { active: false });
    assert.equal((await introspect(token.access_token, RESOURCE_SERVER)).body.active, true);
  });

  it('leaves JWT access tokens to local verification', async () => {
    const token = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: JWT,
      scope: 'orders:read',
    });
    const { status, body } = await introspect(token.access_token, RESOURCE_SERVER);
    assert.equal(status, 400);
    assert.equal(body.error, 'unsupported_token_type');
  });
});
