import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditSink } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { IdentityBoundary, registerIdentityTool } from '@baton/mcp-server';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createOrder, ordersOf } from './orders-data.ts';

export const ORDERS_SCOPES = ['orders:read', 'orders:write'];
export const TRUST_DOMAIN = 'baton.demo';

/** The example "orders" MCP server: an ordinary SDK server, with tools registered through Baton. */
export function buildOrdersServer(): McpServer {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  registerIdentityTool(
    server,
    'list_orders',
    { description: 'Lists your orders.', scopes: ['orders:read'], annotations: { readOnlyHint: true } },
    async ({ identity }) => {
      const orders = ordersOf(identity.actor.sub);
      return {
        content: [{ type: 'text', text: JSON.stringify(orders) }],
        structuredContent: { orders: [...orders] },
      };
    },
  );
  registerIdentityTool(
    server,
    'create_order',
    {
      description: 'Places an order for you.',
      scopes: ['orders:read', 'orders:write'],
      inputSchema: z.object({ item: z.string().min(1).max(200) }),
    },
    async ({ identity, input }) => {
      const order = createOrder(identity.actor.sub, input.item);
      return { content: [{ type: 'text', text: JSON.stringify(order) }] };
    },
  );
  return server;
}

export interface OrdersMcp {
  url: string;
  boundary: IdentityBoundary;
  close(): Promise<void>;
}

/** Binds first (the resource URI must be known before the IdP can issue tokens for it), then serves. */
export async function listenOrdersMcp(host: string, port: number): Promise<{ http: Server; url: string }> {
  const http = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const { port: actual } = http.address() as AddressInfo;
  return { http, url: `http://${host}:${actual}/mcp` };
}

export function serveOrdersMcp(options: {
  http: Server;
  url: string;
  issuer: string;
  audit: AuditSink;
  logger: Logger;
}): OrdersMcp {
  const boundary = new IdentityBoundary({
    resource: options.url,
    authorizationServers: [options.issuer],
    tokenVerifier: jwtAccessTokenVerifier({ issuer: options.issuer, audience: options.url }),
    envelopes: new EnvelopeIssuer({
      issuer: options.url,
      trustDomain: TRUST_DOMAIN,
      keys: EnvelopeKeyRing.generate({ algorithm: 'ES256', retentionSeconds: 900 }),
    }),
    audit: options.audit,
    logger: options.logger,
    scopesSupported: ORDERS_SCOPES,
    resourceName: 'Orders (Baton demo)',
    delegation: { mode: 'service_identity', allowed: [] },
  });
  const mcp = createMcpHandler(buildOrdersServer);
  options.http.on('request', toNodeHandler(boundary.protect(mcp)));
  return {
    url: options.url,
    boundary,
    async close() {
      await mcp.close();
      options.http.closeAllConnections();
      await new Promise<void>((resolve) => options.http.close(() => resolve()));
    },
  };
}
