import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { IssuerMismatchError, type OAuthDiscoveryState } from '@modelcontextprotocol/client';
import {
  DEMO_USERS,
  type DemoIdp,
  SCRIPTED_AGENT_REDIRECT_URL,
  ScriptedAgentProvider,
  startDemoIdp,
} from '../src/index.ts';

const ORDERS = 'http://127.0.0.1:4100/mcp';
const CLIENT_ID = 'mix-up-agent';
/** The same client id at both servers: a mix-up needs nothing more than a client that uses two of them. */
const client = {
  client_id: CLIENT_ID,
  token_endpoint_auth_method: 'none',
  redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
  grant_types: ['authorization_code'],
  response_types: ['code'],
};

/**
 * RFC 9207 at the demo IdP (oidc-provider puts `iss` on every authorization response of the `code`
 * response type, errors included) and at the demo agent (MCP 2026-07-28 "Authorization Response
 * Validation"): a mix-up, where the agent believes it is talking to one authorization server but the
 * redirect comes back from another, is refused before the code or the error text is used.
 */
describe('RFC 9207 authorization server issuer identification', () => {
  let honest: DemoIdp;
  let attacker: DemoIdp;

  before(async () => {
    honest = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      clients: [client],
    });
    attacker = await startDemoIdp({
      resources: [{ resource: ORDERS, scopes: ['orders:read'] }],
      clients: [client],
    });
  });
  after(async () => {
    await honest.close();
    await attacker.close();
  });

  /** An authorization request as the SDK builds it, at `idp`, for the agent's current `state`. */
  function authorizationUrl(idp: DemoIdp, state: string, resource = ORDERS): URL {
    const url = new URL('/auth', idp.issuer);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: SCRIPTED_AGENT_REDIRECT_URL,
      scope: 'orders:read',
      resource,
      state,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return url;
  }

  /** The agent after discovery of the honest server: the issuer it recorded with its code verifier. */
  async function agentThatDiscovered(idp: DemoIdp): Promise<ScriptedAgentProvider> {
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.alice,
      clientName: 'mix-up agent',
      client: { client_id: CLIENT_ID },
    });
    const metadata = await (
      await fetch(new URL('/.well-known/oauth-authorization-server', idp.issuer))
    ).json();
    provider.saveDiscoveryState({
      authorizationServerUrl: idp.issuer,
      authorizationServerMetadata: metadata,
    } as OAuthDiscoveryState);
    return provider;
  }

  it('puts iss on error responses too (an error redirect names its issuer)', async () => {
    const url = authorizationUrl(honest, 'state-1', 'http://127.0.0.1:4999/not-a-resource');
    const response = await fetch(url, { redirect: 'manual' });
    const location = new URL(response.headers.get('location') ?? '');
    await response.body?.cancel();
    assert.equal(location.searchParams.get('error'), 'invalid_target');
    assert.equal(location.searchParams.get('iss'), honest.issuer);
  });

  it('the agent accepts the redirect of the server it discovered, with that server as iss', async () => {
    const provider = await agentThatDiscovered(honest);
    await provider.redirectToAuthorization(authorizationUrl(honest, provider.state()));
    assert.equal(provider.callback?.searchParams.get('iss'), honest.issuer);
    assert.ok(provider.callback?.searchParams.get('code'));
  });

  it('refuses a mix-up: a redirect whose iss is another authorization server', async () => {
    const provider = await agentThatDiscovered(honest);
    await assert.rejects(
      provider.redirectToAuthorization(authorizationUrl(attacker, provider.state())),
      (error: unknown) =>
        error instanceof IssuerMismatchError &&
        error.kind === 'authorization_response' &&
        error.expected === honest.issuer &&
        error.received === attacker.issuer,
    );
    assert.equal(provider.callback, undefined, 'the code is never kept for finishAuth');
  });

  it("refuses a mix-up's error redirect without reading its error text (it is the other server's)", async () => {
    const provider = await agentThatDiscovered(honest);
    const url = authorizationUrl(attacker, provider.state(), 'http://127.0.0.1:4999/not-a-resource');
    await assert.rejects(
      provider.redirectToAuthorization(url),
      (error: unknown) =>
        error instanceof IssuerMismatchError &&
        !error.message.includes('invalid_target') &&
        !error.message.includes('resource'),
    );
  });
});
