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
        },
      ],
    });
  });
  after(() => idp.close());

  function requestToken(body: Record<string, string>) {
    return fetch(new URL('/token', idp.issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${btoa('batch-agent:batch-agent-secret')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...body }),
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

  it('refuses an unknown resource with invalid_target', async () => {
    const response = await requestToken({ resource: 'http://127.0.0.1:4300/unknown', scope: 'orders:read' });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_target');
  });
});
