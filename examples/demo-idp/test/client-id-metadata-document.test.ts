import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { CookieJar } from '../src/cookie-jar.ts';
import {
  type ClientMetadataDocumentHost,
  DEMO_USERS,
  type DemoIdp,
  ID_JAG_DRAFT,
  type LoopbackTls,
  loopbackTls,
  OAuthFlowError,
  SCRIPTED_AGENT_REDIRECT_URL,
  scriptedAgentClientMetadata,
  scriptedLogin,
  serveClientMetadataDocument,
  startDemoIdp,
} from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';

function authorizationUrl(idp: DemoIdp, clientId: string): URL {
  const url = new URL('/auth', idp.issuer);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: SCRIPTED_AGENT_REDIRECT_URL,
    scope: 'orders:read',
    resource: ORDERS,
    state: 'state-1',
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return url;
}

describe('the demo IdP accepts Client ID Metadata Documents (oidc-provider draft-02)', () => {
  let tls: LoopbackTls;
  let idp: DemoIdp;
  const hosts: ClientMetadataDocumentHost[] = [];

  before(async () => {
    tls = await loopbackTls();
    idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      clientIdMetadataDocuments: { allowedHosts: ['127.0.0.1'], ca: tls.cert },
    });
  });
  after(async () => {
    await idp.close();
    for (const host of hosts) await host.close();
  });

  const serve = async (metadata: Record<string, unknown>) => {
    const host = await serveClientMetadataDocument({ tls, metadata: metadata as never });
    hosts.push(host);
    return host;
  };

  it('signs a person in for a client known only by its document URL', async () => {
    const host = await serve(scriptedAgentClientMetadata('document agent'));
    const callback = await scriptedLogin(authorizationUrl(idp, host.url), DEMO_USERS.alice);
    assert.ok(callback.searchParams.get('code'));
    assert.equal(host.fetched, 1);
  });

  /** Walks a browser to the consent page (sign-in done) and returns its HTML. */
  async function consentPageFor(url: URL): Promise<string> {
    const jar = new CookieJar();
    const send = async (target: URL, body?: URLSearchParams) => {
      const headers = new Headers({ accept: 'text/html' });
      const cookie = jar.headerFor(target);
      if (cookie) headers.set('cookie', cookie);
      const response = await fetch(target, {
        method: body ? 'POST' : 'GET',
        headers,
        body,
        redirect: 'manual',
      });
      jar.store(response);
      return response;
    };
    let target = url;
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 10; step++) {
      const response = await send(target, body);
      body = undefined;
      const location = response.headers.get('location');
      if (location) {
        await response.body?.cancel();
        target = new URL(location, target);
        continue;
      }
      const html = await response.text();
      if (html.includes('data-step="consent"')) return html;
      const action = /action="([^"]*)" data-step="login"/.exec(html)?.[1];
      assert.ok(action, 'a login form');
      target = new URL(action.replaceAll('&amp;', '&'), target);
      body = new URLSearchParams({ username: 'alice', password: DEMO_USERS.alice.password });
    }
    throw new Error('no consent page');
  }

  it('shows the redirect host, the document URL and a localhost warning at consent (MCP metadata document security)', async () => {
    const host = await serve(scriptedAgentClientMetadata('<b>Trusted Corp</b> agent'));
    const html = await consentPageFor(authorizationUrl(idp, host.url));
    assert.match(html, /data-redirect-host>The answer is sent to <strong>127\.0\.0\.1:8976<\/strong>/);
    assert.ok(html.includes(`<code>${host.url}</code>`), 'the client is named by its document URL');
    assert.match(html, /data-localhost-warning/);
    assert.doesNotMatch(html, /<b>Trusted Corp/, 'the self-declared name is escaped');
  });

  it('refuses a redirect_uri the document does not list', async () => {
    const host = await serve(scriptedAgentClientMetadata('document agent'));
    const url = authorizationUrl(idp, host.url);
    url.searchParams.set('redirect_uri', 'http://127.0.0.1:4999/elsewhere');
    await assert.rejects(
      scriptedLogin(url, DEMO_USERS.alice),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_redirect_uri',
    );
  });

  it('refuses a document client that grants itself client_credentials (the operator grants that)', async () => {
    const host = await serve({
      ...scriptedAgentClientMetadata('machine pretender'),
      grant_types: ['authorization_code', 'client_credentials'],
    });
    await assert.rejects(
      scriptedLogin(authorizationUrl(idp, host.url), DEMO_USERS.alice),
      (error: unknown) =>
        error instanceof OAuthFlowError &&
        error.error === 'invalid_client_metadata' &&
        /granted by the operator/.test(error.errorDescription ?? ''),
    );
  });

  it('refuses a document client that grants itself the token-exchange grant (ID-JAGs are the administrator’s)', async () => {
    const host = await serve({
      ...scriptedAgentClientMetadata('id-jag pretender'),
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'],
    });
    await assert.rejects(
      scriptedLogin(authorizationUrl(idp, host.url), DEMO_USERS.alice),
      (error: unknown) =>
        error instanceof OAuthFlowError &&
        error.error === 'invalid_client_metadata' &&
        /token exchange is granted by the operator/.test(error.errorDescription ?? ''),
    );
  });

  it('refuses a jwks_uri on an allowed host that redirects to a special-use address (only document fetches skip the SSRF guard)', async () => {
    // A registered client's jwks_uri on 127.0.0.1 (a listed document host), redirecting to another
    // loopback URL: fetched as oidc-provider fetches it, it never reaches either.
    const requested: string[] = [];
    const keyServer = createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
      requested.push(request.url ?? '');
      if (request.url === '/jwks') response.writeHead(302, { location: '/metadata-service' }).end();
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = keyServer.address() as AddressInfo;
      const registered = await fetch(`${idp.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          application_type: 'native',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `https://127.0.0.1:${port}/jwks`,
        }),
      });
      assert.equal(registered.status, 201);
      const { client_id: clientId } = (await registered.json()) as { client_id: string };
      const { privateKey } = await generateKeyPair('ES256');
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(idp.issuer)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(privateKey);
      const response = await fetch(`${idp.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'unused',
          redirect_uri: SCRIPTED_AGENT_REDIRECT_URL,
          code_verifier: randomBytes(32).toString('base64url'),
          client_id: clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
      assert.deepEqual(requested, [], 'oidc-provider’s SSRF guard dropped the connection to loopback');
    } finally {
      keyServer.closeAllConnections();
      await new Promise<void>((resolve) => keyServer.close(() => resolve()));
    }
  });

  it('refuses a document that declares a shared secret method (draft §4)', async () => {
    const host = await serve({
      ...scriptedAgentClientMetadata('secret keeper'),
      token_endpoint_auth_method: 'client_secret_basic',
    });
    await assert.rejects(
      scriptedLogin(authorizationUrl(idp, host.url), DEMO_USERS.alice),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_client_metadata',
    );
  });
});

describe('a metadata-document client the administrator lists for ID-JAGs', () => {
  it('may hold the token-exchange grant (listed in an authorization server’s clients)', async () => {
    const tls = await loopbackTls();
    let listed = 'https://127.0.0.1/not-yet';
    const idp = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      clientIdMetadataDocuments: { allowedHosts: ['127.0.0.1'], ca: tls.cert },
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          {
            issuer: 'http://127.0.0.1:4601',
            resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
            clients: [listed],
          },
        ],
      },
    });
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const host = await serveClientMetadataDocument({
      tls,
      metadata: {
        ...scriptedAgentClientMetadata('listed agent'),
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' }] },
      } as never,
    });
    try {
      listed = host.url;
      const callback = await scriptedLogin(authorizationUrl(idp, host.url), DEMO_USERS.alice);
      assert.ok(callback.searchParams.get('code'));
    } finally {
      await idp.close();
      await host.close();
    }
  });
});

describe('the metadata document allow-list is explicit', () => {
  for (const [name, allowedHosts] of [
    ['empty', []],
    ['with a scheme', ['https://127.0.0.1']],
    ['with a port', ['127.0.0.1:8443']],
    ['with a path', ['127.0.0.1/agents']],
    ['a wildcard', ['*.example.com']],
  ] as const) {
    it(`refuses an allow-list ${name} when the IdP starts`, async () => {
      await assert.rejects(
        startDemoIdp({
          resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
          clientIdMetadataDocuments: { allowedHosts: [...allowedHosts] },
        }),
        (error: unknown) => error instanceof TypeError && /allowedHosts/.test(error.message),
      );
    });
  }
});
