import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DemoIdp, startDemoIdp } from '../src/index.ts';

describe('discovery and dynamic registration', () => {
  let idp: DemoIdp;

  before(async () => {
    idp = await startDemoIdp({
      resources: [{ resource: 'http://127.0.0.1:4100/mcp', scopes: ['orders:read'] }],
    });
  });
  after(() => idp.close());

  it('binds an ephemeral loopback port and uses it in the issuer', () => {
    assert.equal(idp.url.hostname, '127.0.0.1');
    assert.notEqual(idp.url.port, '');
    assert.equal(idp.issuer, `http://127.0.0.1:${idp.url.port}`);
  });

  it('publishes OpenID and RFC 8414 metadata with what MCP clients look for', async () => {
    const openid = (await (
      await fetch(new URL('/.well-known/openid-configuration', idp.issuer))
    ).json()) as Record<string, unknown>;
    assert.equal(openid.issuer, idp.issuer);
    assert.deepEqual(openid.code_challenge_methods_supported, ['S256']);
    assert.equal(openid.registration_endpoint, `${idp.issuer}/reg`);
    assert.equal(openid.introspection_endpoint, `${idp.issuer}/token/introspection`);
    assert.equal(openid.jwks_uri, idp.jwksUri);
    assert.equal(openid.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(openid.response_types_supported, ['code']);

    const oauth = await (await fetch(new URL('/.well-known/oauth-authorization-server', idp.issuer))).json();
    assert.deepEqual(oauth, openid);
  });

  it('accepts the public client registration the MCP TypeScript SDK sends', async () => {
    const metadata = {
      client_name: 'MCP SDK client',
      redirect_uris: ['http://127.0.0.1:5678/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
    const response = await fetch(new URL('/reg', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });
    assert.equal(response.status, 201);
    const client = (await response.json()) as Record<string, unknown>;
    assert.equal(typeof client.client_id, 'string');
    assert.equal(client.client_secret, undefined, 'a public client gets no secret');
    assert.deepEqual(client.redirect_uris, metadata.redirect_uris);
    assert.equal(client.token_endpoint_auth_method, 'none');
  });

  it('publishes only the public half of a single ES256 signing key', async () => {
    const { keys } = (await (await fetch(idp.jwksUri)).json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(keys.length, 1);
    const [key] = keys;
    assert.equal(key?.alg, 'ES256');
    assert.equal(key?.use, 'sig');
    assert.equal(key?.crv, 'P-256');
    assert.equal(typeof key?.kid, 'string');
    assert.equal(key?.d, undefined);
  });

  it('gives every start its own signing key', async () => {
    const other = await startDemoIdp({ resources: [] });
    try {
      const kids = await Promise.all(
        [idp, other].map(
          async (each) =>
            ((await (await fetch(each.jwksUri)).json()) as { keys: [{ kid: string }] }).keys[0].kid,
        ),
      );
      assert.notEqual(kids[0], kids[1]);
    } finally {
      await other.close();
    }
  });
});
