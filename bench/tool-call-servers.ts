/**
 * Child process for the tool-call benchmark: a real IdP, and the same orders tools served twice —
 * behind the Baton identity boundary, and behind only the MCP SDK's own bearer check — so the load
 * generator in the parent process does not share a core's event loop with the servers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@baton/audit';
import { DEMO_USERS, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { IdentityBoundary } from '@baton/mcp-server';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer, requireBearerAuth } from '@modelcontextprotocol/server';

const ORDERS = { 'user-alice': [{ id: 'A-1' }], 'user-bob': [{ id: 'B-1' }] } as Record<string, unknown[]>;

async function listen(): Promise<{ server: ReturnType<typeof createServer>; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp` };
}

const baton = await listen();
const baseline = await listen();
const scopes = ['orders:read'];
const idp = await startDemoIdp({
  resources: [
    { resource: baton.url, scopes },
    { resource: baseline.url, scopes },
  ],
});

// Baton: boundary + identity tool (audit to a pino sink writing nowhere but still serialising).
const silent = createLogger({ name: 'bench', level: 'info', destination: { write: () => true } as never });
const { LogAuditSink } = await import('@baton/audit');
const boundary = new IdentityBoundary({
  resource: baton.url,
  authorizationServers: [idp.issuer],
  tokenVerifier: jwtAccessTokenVerifier({ issuer: idp.issuer, audience: baton.url }),
  envelopes: new EnvelopeIssuer({
    issuer: baton.url,
    trustDomain: 'bench',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
  }),
  audit: new LogAuditSink(silent),
  logger: silent,
});
const batonMcp = createMcpHandler(() => {
  const server = new McpServer({ name: 'orders', version: '1' });
  boundary.registerTool(server, 'list_orders', { scopes }, async ({ identity }) => ({
    content: [{ type: 'text', text: JSON.stringify(ORDERS[identity.actor.sub] ?? []) }],
  }));
  return server;
});
// Baton's Node adapter (its Host, method and Authorization checks) is part of what Baton costs.
serveNodeRequests(baton.server, boundary.protect(batonMcp));

// Baseline: the SDK's own bearer gate with a jose-backed verifier (what one writes without Baton:
// every token verified in full, no verified-token cache), and a tool that reads the user from authInfo.
const baselineVerifier = jwtAccessTokenVerifier({ issuer: idp.issuer, audience: baseline.url, cache: false });
const gate = requireBearerAuth({
  verifier: {
    async verifyAccessToken(token) {
      const claims = await baselineVerifier.verify(token);
      return {
        token,
        clientId: claims.clientId,
        scopes: [...claims.scopes],
        expiresAt: claims.expiresAt,
        resource: new URL(baseline.url),
        extra: { sub: claims.subject },
      };
    },
  },
  requiredScopes: scopes,
  expectedResource: new URL(baseline.url),
});
const baselineMcp = createMcpHandler(() => {
  const server = new McpServer({ name: 'orders', version: '1' });
  server.registerTool('list_orders', {}, async (ctx) => ({
    content: [{ type: 'text', text: JSON.stringify(ORDERS[String(ctx.http?.authInfo?.extra?.sub)] ?? []) }],
  }));
  return server;
});
baseline.server.on(
  'request',
  toNodeHandler({
    async fetch(request: Request) {
      const auth = await gate(request);
      if (auth instanceof Response) return auth;
      return baselineMcp.fetch(request, { authInfo: auth });
    },
  }),
);

const tokens: Record<string, string[]> = { baton: [], baseline: [] };
for (const [name, url] of [
  ['baton', baton.url],
  ['baseline', baseline.url],
] as const) {
  for (const user of [DEMO_USERS.alice, DEMO_USERS.bob]) {
    const response = await obtainUserAccessToken(idp, {
      username: user.username,
      password: user.password,
      resource: url,
      scope: 'orders:read',
    });
    tokens[name]!.push(response.access_token);
  }
}
// Tokens travel over the IPC channel only, never to a log or stdout.
process.send?.({ baton: baton.url, baseline: baseline.url, tokens });
// The parent reads this process's CPU time around each load run: server CPU per call is the steadier
// measure of what the boundary costs, since on two cores the load generator can be the bottleneck.
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
process.on('disconnect', () => process.exit(0));
