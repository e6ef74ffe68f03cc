import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type DemoIdp, startDemoIdp } from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';

describe('client credentials grant', () => {
  let idp: DemoIdp;

  before(async () => {
    idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read', 'orders:write'] }],
      clients: [
        {
          client_id: 'batch-agent',
          client_secret: 'batch-agent-secret',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          // What the operator approves for this machine client.
          scope: 'orders:read',
        },
      ],
    });
  });
  after(() => idp.close());

  function requestToken(body: Record<string, string>, credentials = 'batch-agent:batch-agent-secret') {
    return fetch(new URL('/token', idp.issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa(credentials)}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...body }),
    });
  }

  function register(metadata: Record<string, unknown>) {
    return fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });
  }

  it('issues a machine token for a resource, with the client as subject and no user claims', async () => {
    const response = await requestToken({ resource: ORDERS, scope: 'orders:read unknown:scope' });
    assert.equal(response.status, 200);
    const { access_token: accessToken } = (await response.json()) as { access_token: string };
    const { payload, protectedHeader } = await jwtVerify(
      accessToken,
      createRemoteJWKSet(new URL(idp.jwksUri)),
      {
        issuer: idp.issuer,
        audience: ORDERS,
      },
    );
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, 'batch-agent');
    assert.equal(payload.client_id, 'batch-agent');
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.tenant, undefined);
    assert.equal(payload.roles, undefined);
  });

  it('refuses a machine client asking for a scope the operator did not approve (orders:write) with invalid_scope', async () => {
    const response = await requestToken({ resource: ORDERS, scope: 'orders:read orders:write' });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_scope');
    assert.equal(body.error_description, 'requested scope is not allowed');
  });

  it('an attacker who self-registers a machine client is refused the client_credentials grant (invalid_client_metadata)', async () => {
    const response = await register({
      client_name: 'self-registered machine',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'orders:read orders:write',
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_client_metadata');
    assert.match(body.error_description, /client_credentials is granted by the operator/);
  });

  it('an attacker who self-registers an ordinary client cannot use it for client_credentials', async () => {
    const registered = await register({
      client_name: 'self-registered app',
      redirect_uris: ['http://127.0.0.1:8976/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'orders:read orders:write',
    });
    assert.equal(registered.status, 201);
    const client = (await registered.json()) as { client_id: string; client_secret: string };
    const response = await requestToken(
      { resource: ORDERS, scope: 'orders:write' },
      `${client.client_id}:${client.client_secret}`,
    );
    assert.equal(response.status, 400);
    // oidc-provider answers `invalid_request` here (RFC 6749 §5.2 would also allow `unauthorized_client`).
    const body = (await response.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_request');
    assert.equal(body.error_description, 'requested grant type is not allowed for this client');
  });

  it('refuses an unknown resource with invalid_target', async () => {
    const response = await requestToken({ resource: 'http://127.0.0.1:4300/unknown', scope: 'orders:read' });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_target');
  });

  it('refuses to start with a machine client the operator approved no scopes for', async () => {
    await assert.rejects(
      startDemoIdp({
        resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
        clients: [
          {
            client_id: 'unscoped-agent',
            client_secret: 'unscoped-agent-secret',
            grant_types: ['client_credentials'],
            response_types: [],
            redirect_uris: [],
          },
        ],
      }),
      /no approved scope/,
    );
  });
});
