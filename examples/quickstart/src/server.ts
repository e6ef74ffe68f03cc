/**
 * The README's smallest complete server: an MCP SDK v2 server behind the Baton boundary on Node `http`.
 * `ISSUER` names your authorization server, `RESOURCE` this server's URL (the audience of its tokens).
 * `npm start` runs it on the built packages, as an outside project would (`npm run build` first).
 */
import http from 'node:http';
import { createLogger, LogAuditSink } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { IdentityBoundary } from '@baton/mcp-server';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';

const issuer = process.env.ISSUER ?? 'http://127.0.0.1:4000';
const resource = process.env.RESOURCE ?? 'http://127.0.0.1:3000/mcp';
const logger = createLogger({ name: 'orders-mcp' });

const boundary = new IdentityBoundary({
  resource,
  authorizationServers: [issuer],
  tokenVerifier: jwtAccessTokenVerifier({ issuer, audience: resource }),
  envelopes: new EnvelopeIssuer({
    issuer: resource,
    trustDomain: 'example.com',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
  }),
  audit: new LogAuditSink(logger),
  logger,
  scopesSupported: ['orders:read'],
});

const ORDERS: Record<string, string[]> = { 'user-alice': ['A-1', 'A-2'] };

const mcp = createMcpHandler(() => {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  // The tool gets { identity, input }: identity.actor.sub is the validated person, never the model's say-so.
  boundary.registerTool(server, 'list_orders', { scopes: ['orders:read'] }, async ({ identity }) => ({
    content: [{ type: 'text', text: JSON.stringify(ORDERS[identity.actor.sub] ?? []) }],
  }));
  return server;
});

const { hostname, port } = new URL(resource);
serveNodeRequests(http.createServer(), boundary.protect(mcp), { logger }).listen(Number(port), hostname, () =>
  console.log(`orders MCP server at ${resource}, tokens from ${issuer}`),
);
