import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  type DpopKey,
  dpopKey,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
} from '@baton/broker-client';
import { type DemoIdp, generateSigningJwk, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { downstreamVerifier, withDownstreamIdentity } from '@baton/downstream-verifier';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { jwtAccessTokenVerifier, MemoryDpopReplayStore } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { IdentityBoundary } from '../src/boundary.ts';
import { DownstreamClient } from '../src/downstream/client.ts';
import { type DownstreamService, indexServices } from '../src/downstream/services.ts';
import { TokenCache } from '../src/downstream/token-cache.ts';
import { startHopSpan } from '../src/telemetry.ts';

const MCP = 'http://127.0.0.1:4599/mcp';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/**
 * The downstream client against the real parts: the broker binds the exchanged token to the server's
 * DPoP key (oidc-provider's DPoP, `dpop_bound_access_tokens`), and the API's downstream verifier checks
 * a proof on every call, with server nonces (RFC 9449 §9) and a replay store.
 */
describe('DPoP-bound downstream calls end to end (broker, downstream verifier)', () => {
  let idp: DemoIdp;
  let broker: Broker;
  let credentials: ServiceCredentials;
  let key: DpopKey;
  let apiUrl: string;
  let subjectToken: string;
  const brokerAudit = new MemoryAuditSink();
  const apiAudit = new MemoryAuditSink();
  /** What reached the API, in order: method and whether it was answered with a nonce challenge. */
  const apiSeen: Array<{ status: number; nonceChallenge: boolean; scheme: string | undefined }> = [];
  const api = createServer();
  /** A downstream MCP server behind the Baton boundary, which wants DPoP proofs with its nonces. */
  const mcpHttp = createServer();
  let mcpUrl: string;
  const mcpSeen: Array<{ method: string; status: number; nonceChallenge: boolean }> = [];
  let closeMcp: () => Promise<void> = async () => {};

  before(async () => {
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api`;
    await new Promise<void>((resolve) => mcpHttp.listen(0, '127.0.0.1', resolve));
    mcpUrl = `http://127.0.0.1:${(mcpHttp.address() as AddressInfo).port}/mcp`;
    idp = await startDemoIdp({
      signingJwk: await generateSigningJwk(),
      resources: [{ resource: MCP, scopes: ['orders:read'] }],
    });
    credentials = await serviceCredentials('tools-mcp');
    key = await dpopKey();
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        { resource: apiUrl, scopes: ['orders:read'] },
        { resource: mcpUrl, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({
        policies: `@id("test") permit (principal, action, resource) when { ["on_behalf_of"].contains(context.mode) };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: brokerAudit,
      clients: [
        serviceClientMetadata({
          clientId: 'tools-mcp',
          jwks: credentials.jwks,
          resources: [MCP],
          grantTypes: [TOKEN_EXCHANGE_GRANT],
          // Every token this service gets is bound to its DPoP key.
          dpopBound: true,
        }),
      ],
      initialAccessToken: randomBytes(24).toString('base64url'),
    });
    const verified = withDownstreamIdentity(
      {
        verifier: downstreamVerifier({
          audience: apiUrl,
          broker: { issuer: broker.issuer },
          senderConstraint: {
            dpop: { replay: new MemoryDpopReplayStore(), nonces: { secret: randomBytes(32) } },
          },
        }),
        requiredScopes: ['orders:read'],
        audit: apiAudit,
      },
      (_request, identity) => Response.json({ user: identity.user, chain: identity.chain }),
    );
    serveNodeRequests(api, {
      async fetch(request: Request) {
        const response = await verified(request);
        apiSeen.push({
          status: response.status,
          nonceChallenge: /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? ''),
          scheme: request.headers.get('authorization')?.split(' ')[0],
        });
        return response;
      },
    });
    const boundary = new IdentityBoundary({
      resource: mcpUrl,
      authorizationServers: [broker.issuer],
      tokenVerifier: jwtAccessTokenVerifier({ issuer: broker.issuer, audience: mcpUrl }),
      envelopes: new EnvelopeIssuer({
        issuer: mcpUrl,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit: new MemoryAuditSink(),
      logger: createLogger({ name: 'bound-mcp', level: 'silent' }),
      senderConstraint: {
        dpop: { replay: new MemoryDpopReplayStore(), nonces: { secret: randomBytes(32) }, required: true },
      },
    });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 'bound-mcp', version: '1.0.0' });
      boundary.registerTool(
        server,
        'whoami',
        { description: 'Who the call is for.', scopes: ['orders:read'] },
        async ({ identity }) => ({
          content: [{ type: 'text', text: `${identity.actor.sub} ${identity.authorization.confidence}` }],
        }),
      );
      return server;
    });
    closeMcp = () => mcp.close();
    const protectedMcp = boundary.protect(mcp);
    serveNodeRequests(mcpHttp, {
      async fetch(request: Request, options?: Parameters<typeof protectedMcp.fetch>[1]) {
        const response = await protectedMcp.fetch(request, options);
        mcpSeen.push({
          method: request.method,
          status: response.status,
          nonceChallenge: /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? ''),
        });
        return response;
      },
    });
    subjectToken = (
      await obtainUserAccessToken(idp, {
        username: 'alice',
        password: 'alice-demo-pw',
        resource: MCP,
        scope: 'orders:read',
      })
    ).access_token;
  });
  after(async () => {
    await closeMcp();
    for (const server of [api, mcpHttp]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await broker.close();
    await idp.close();
  });

  function clientFor(services: DownstreamService[]) {
    const options = { broker: { issuer: broker.issuer, credentials }, services };
    const settings = {
      options,
      services: indexServices(services, options),
      serviceTokens: new TokenCache(),
      delegatedTokens: new TokenCache(),
      audit: new MemoryAuditSink(),
      component: MCP,
    };
    const envelopes = new EnvelopeIssuer({
      issuer: MCP,
      trustDomain: 'baton.test',
      keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
    });
    return () => {
      const minted = envelopes.mint({
        actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
        agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
        session: { id: 'session-1', trace_id: TRACE_ID },
        authorization: { scopes: ['orders:read'], confidence: 'medium' },
        delegation: { mode: 'on_behalf_of', allowed: [apiUrl, mcpUrl] },
      });
      return new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken,
          subjectIssuer: idp.issuer,
          hop: startHopSpan('tool t', 'server', { traceId: TRACE_ID, parentSpanId: undefined }),
        },
        settings,
      );
    };
  }

  it('gets a token bound to its key, proves it on each call, and answers the API nonce challenge once', async () => {
    const client = clientFor([
      {
        name: 'api',
        url: apiUrl,
        mode: 'on_behalf_of',
        scopes: ['orders:read'],
        senderConstraint: { dpop: key },
      },
    ]);
    const first = await client().fetch('api', 'orders');
    assert.equal(first.status, 200);
    assert.equal(((await first.json()) as { user: string }).user, 'user-alice');
    // The broker bound the exchanged token to the key the token request proved.
    const exchange = brokerAudit.events.find(
      (event) => event.action === 'token.exchange' && event.outcome === 'ok',
    );
    assert.deepEqual(exchange?.cnf, { jkt: key.thumbprint });
    // The API wanted its nonce: one challenge, one retry with it, served.
    assert.deepEqual(
      apiSeen.map((seen) => [seen.status, seen.nonceChallenge, seen.scheme]),
      [
        [401, true, 'DPoP'],
        [200, false, 'DPoP'],
      ],
    );
    // The nonce is remembered: the next call (a new tool invocation) goes through at once.
    assert.equal((await client().fetch('api', 'orders')).status, 200);
    assert.equal(apiSeen.length, 3);
    assert.equal(apiSeen[2]!.status, 200);
  });

  it('the broker refuses this service a token without a proof (dpop_bound_access_tokens)', async () => {
    const client = clientFor([{ name: 'api', url: apiUrl, mode: 'on_behalf_of', scopes: ['orders:read'] }]);
    await assert.rejects(client().fetch('api', 'orders'), { code: 'ERR_DOWNSTREAM_TOKEN_REFUSED' });
  });

  it('connects to a downstream MCP server that requires DPoP: a proof with every request of the session', async () => {
    const client = clientFor([
      {
        name: 'bound-mcp',
        url: mcpUrl,
        mode: 'on_behalf_of',
        scopes: ['orders:read'],
        senderConstraint: { dpop: key },
      },
    ]);
    const mcp = await client().connect('bound-mcp');
    try {
      const result = await mcp.callTool({ name: 'whoami', arguments: {} });
      // The boundary verified the binding: the envelope says so (confidence "high").
      assert.deepEqual(result.content, [{ type: 'text', text: 'user-alice high' }]);
    } finally {
      await mcp.close();
    }
    // The boundary asked for its nonce once; every request after carried it, and a fresh proof.
    assert.equal(mcpSeen.filter((seen) => seen.nonceChallenge).length, 1);
    assert.ok(mcpSeen.filter((seen) => seen.status < 300).length >= 2, JSON.stringify(mcpSeen));
    // No other refusal (a stateless server answers the SSE GET 405 after the boundary admitted it).
    assert.ok(
      mcpSeen.every((seen) => (seen.status !== 401 && seen.status !== 403) || seen.nonceChallenge),
      JSON.stringify(mcpSeen),
    );
  });
});
