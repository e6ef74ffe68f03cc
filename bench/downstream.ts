import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, LogAuditSink, MemoryAuditSink } from '@baton/audit';
import { startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import { serviceClientMetadata, serviceCredentials, TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import { generateSigningJwk, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { downstreamVerifier, withDownstreamIdentity } from '@baton/downstream-verifier';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { DownstreamClient, type DownstreamMode, startHopSpan } from '@baton/mcp-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { indexServices } from '../packages/mcp-server/src/downstream/services.ts';
import { TokenCache } from '../packages/mcp-server/src/downstream/token-cache.ts';
import { fmt, summarize } from './stats.ts';

const MCP = 'http://127.0.0.1:4501/mcp';

/**
 * What each delegation mode adds to one downstream call with warm token caches, from the tool's call
 * to the API's verified answer, against a plain fetch of the same API with no identity at all.
 */
export async function benchDownstream(calls = 2000): Promise<Array<Record<string, string>>> {
  const api = createServer();
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api`;
  const idp = await startDemoIdp({
    signingJwk: await generateSigningJwk(),
    resources: [{ resource: MCP, scopes: ['orders:read'] }],
  });
  const credentials = await serviceCredentials('orders-mcp');
  const broker = await startBroker({
    trustedIssuers: [{ issuer: idp.issuer }],
    audiences: [{ resource: apiUrl, scopes: ['orders:read'] }],
    policy: createCedarPolicyEngine({
      policies: `@id("bench") permit (principal, action, resource) when { ["on_behalf_of", "restricted_user", "service_identity"].contains(context.mode) };`,
      defaults: { lifetimeSeconds: 300, maxDepth: 3 },
    }),
    audit: new MemoryAuditSink(),
    clients: [
      serviceClientMetadata({
        clientId: 'orders-mcp',
        jwks: credentials.jwks,
        resources: [MCP],
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        scopes: ['orders:read'],
      }),
    ],
    initialAccessToken: 'bench-initial-access-token',
  });
  const ring = EnvelopeKeyRing.generate({ retentionSeconds: 900 });
  const envelopes = new EnvelopeIssuer({ issuer: MCP, trustDomain: 'bench', keys: ring });
  const jwks = createServer((_request, response) => response.end(JSON.stringify(ring.jwks())));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const verifier = downstreamVerifier({
    audience: apiUrl,
    broker: { issuer: broker.issuer },
    serviceIdentity: {
      trustDomain: 'bench',
      callers: [
        {
          clientId: 'orders-mcp',
          envelopeIssuer: MCP,
          envelopeJwksUri: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/`,
        },
      ],
    },
  });
  const silent = new LogAuditSink(
    createLogger({ name: 'bench', destination: { write: () => true } as never }),
  );
  const verified = withDownstreamIdentity({ verifier, audit: silent }, (_request, identity) =>
    Response.json({ user: identity.user }),
  );
  serveNodeRequests(api, {
    fetch: (request: Request) =>
      request.headers.has('authorization')
        ? verified(request)
        : Promise.resolve(Response.json({ user: 'anonymous' })),
  });

  const subjectToken = (
    await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: MCP,
      scope: 'orders:read',
    })
  ).access_token;
  const settings = (mode: DownstreamMode) => ({
    options: {
      broker: { issuer: broker.issuer, credentials },
      services: [{ name: 'api', url: apiUrl, mode, scopes: ['orders:read'] }],
    },
    services: indexServices([{ name: 'api', url: apiUrl, mode, scopes: ['orders:read'] }]),
    serviceTokens: new TokenCache(),
    delegatedTokens: new TokenCache(),
    audit: silent,
    component: MCP,
  });
  const body = {
    actor: { type: 'user' as const, sub: 'user-alice', tenant: 'acme' },
    agent: { type: 'ai_agent' as const, id: 'agent-1', client_id: 'agent-1' },
    session: { id: 's', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    authorization: { scopes: ['orders:read'], confidence: 'medium' as const },
    delegation: { mode: 'service_identity' as const, allowed: [apiUrl] },
  };

  const measure = async (call: () => Promise<Response>) => {
    for (let i = 0; i < 200; i++) await (await call()).arrayBuffer(); // warm caches and JIT
    const latencies: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      const response = await call();
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`bench call failed: ${response.status}`);
      latencies.push(performance.now() - t0);
    }
    return summarize(latencies);
  };
  const rows: Array<Record<string, string>> = [];
  const plain = await measure(() => fetch(`${apiUrl}/orders`));
  rows.push({
    call: 'plain fetch, no identity',
    'p50 ms': fmt(plain.p50, 3),
    'p99 ms': fmt(plain.p99, 3),
    'added p50 ms': '—',
  });
  for (const mode of ['service_identity', 'on_behalf_of', 'restricted_user'] as DownstreamMode[]) {
    const shared = settings(mode);
    // One tool invocation per call: a fresh envelope (signed on first use) and client, warm token caches.
    const result = await measure(() => {
      const minted = envelopes.mint(body);
      const client = new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken,
          subjectIssuer: idp.issuer,
          hop: startHopSpan('bench', 'server', { traceId: body.session.trace_id, parentSpanId: undefined }),
        },
        shared,
      );
      return client.fetch('api', 'orders');
    });
    rows.push({
      call: `${mode} (warm cache)`,
      'p50 ms': fmt(result.p50, 3),
      'p99 ms': fmt(result.p99, 3),
      'added p50 ms': fmt(result.p50 - plain.p50, 3),
    });
  }
  api.closeAllConnections();
  api.close();
  jwks.close();
  await broker.close();
  await idp.close();
  return rows;
}
