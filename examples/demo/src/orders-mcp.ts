import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AuditSink } from '@baton/audit';
import type { ServiceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing, type EnvelopeKeys } from '@baton/envelope';
import {
  type ApprovalStore,
  type ClientTls,
  DownstreamError,
  IdentityBoundary,
  type SharedTokenStore,
} from '@baton/mcp-server';
import { jwtAccessTokenVerifier, type RevocationCheck } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createOrder } from './data.ts';
import { TRUST_DOMAIN } from './workload-pki.ts';

/** Scopes the orders MCP server advertises: its own, and billing:read for the calls it makes for you. */
export const ORDERS_MCP_SCOPES = ['orders:read', 'orders:write', 'billing:read'];
export { TRUST_DOMAIN } from './workload-pki.ts';
/** The orders MCP server's client at the IdP, for the approval page's sign-in. */
export const ORDERS_MCP_APPROVAL_CLIENT_ID = 'orders-mcp-approvals';
/** The operator's tool policy: large orders need the person's approval (see the file). */
export const ORDERS_MCP_TOOL_POLICY = readFileSync(
  new URL('../orders-mcp-tools.cedar', import.meta.url),
  'utf8',
);

/** The IdP registration of the approval page's client: its redirect URI is on the MCP server's origin. */
export function approvalClientRegistration(
  ordersMcpUrl: string,
  clientSecret: string,
): Record<string, unknown> {
  return {
    client_id: ORDERS_MCP_APPROVAL_CLIENT_ID,
    client_secret: clientSecret,
    client_name: 'Orders MCP approvals',
    redirect_uris: [`${new URL(ordersMcpUrl).origin}/.baton/approve/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

/**
 * The example "orders" MCP server: an ordinary SDK server whose tools are registered through Baton.
 * Its tools reach the orders API as the server itself (service identity, with the envelope) and the
 * billing MCP server on the person's behalf (on-behalf-of, through the broker).
 */
export function buildOrdersServer(boundary: IdentityBoundary): McpServer {
  const server = new McpServer({ name: 'orders', version: '1.0.0' });
  boundary.registerTool(
    server,
    'list_orders',
    { description: 'Lists your orders.', scopes: ['orders:read'], annotations: { readOnlyHint: true } },
    async (_invocation, context) => {
      const response = await context.downstream.fetch('orders-api', 'orders');
      const body = (await response.json()) as { orders: unknown[] };
      return { content: [{ type: 'text', text: JSON.stringify(body.orders) }] };
    },
  );
  boundary.registerTool(
    server,
    'create_order',
    {
      description: 'Places an order for you. More than 10 at once needs your approval.',
      scopes: ['orders:read', 'orders:write'],
      inputSchema: z.object({
        item: z.string().min(1).max(200),
        quantity: z.number().int().min(1).default(1),
      }),
      annotations: { destructiveHint: false },
      // The tool policy reads the quantity (orders-mcp-tools.cedar).
      policyInput: ['quantity'],
    },
    async ({ identity, input }) => ({
      content: [
        { type: 'text', text: JSON.stringify(createOrder(identity.actor.sub, input.item, input.quantity)) },
      ],
    }),
  );
  boundary.registerTool(
    server,
    'order_summary',
    {
      description: 'Your orders with what you still owe: asks the billing MCP server on your behalf.',
      scopes: ['orders:read'],
      annotations: { readOnlyHint: true },
    },
    async (_invocation, context) => {
      const orders = (
        (await (await context.downstream.fetch('orders-api', 'orders')).json()) as {
          orders: Array<{ id: string }>;
        }
      ).orders;
      let invoices: unknown;
      try {
        const billing = await context.downstream.connect('billing-mcp');
        try {
          const result = await billing.callTool({ name: 'list_invoices', arguments: {} });
          invoices = JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
        } finally {
          await billing.close();
        }
      } catch (error) {
        // A refusal is an answer, not a crash: the person may not hold billing:read.
        if (!(error instanceof DownstreamError)) throw error;
        invoices = { unavailable: error.code, reason: error.message };
      }
      return {
        content: [
          { type: 'text', text: JSON.stringify({ orders: orders.map((order) => order.id), invoices }) },
        ],
      };
    },
  );
  // Resources and prompts with identity (issue #12): "my pipeline" is the caller's, from the envelope.
  boundary.registerResource(
    server,
    'my-pipeline',
    MY_PIPELINE,
    {
      description: 'Your open orders, with totals: whose they are comes from your token, never the URI.',
      mimeType: 'application/json',
      scopes: ['orders:read'],
    },
    async ({ uri }, context) => {
      const { orders } = (await (await context.downstream.fetch('orders-api', 'orders')).json()) as {
        orders: Array<{ id: string; total: number }>;
      };
      const total = orders.reduce((sum, order) => sum + order.total, 0);
      return {
        contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ orders, total }) }],
      };
    },
  );
  boundary.registerPrompt(
    server,
    'review_my_orders',
    {
      description: 'Asks the model to review your orders for anything unusual.',
      scopes: ['orders:read'],
    },
    async ({ identity }, context) => {
      const { orders } = (await (await context.downstream.fetch('orders-api', 'orders')).json()) as {
        orders: Array<{ id: string; item: string }>;
      };
      const list = orders.map((order) => `${order.id} ${order.item}`).join('; ');
      return {
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text: `Review the orders of ${identity.actor.sub} for anything unusual: ${list}`,
            },
          },
        ],
      };
    },
  );
  return server;
}

/** The per-user resource: the same URI for everyone, each caller's own contents. */
export const MY_PIPELINE = 'orders://me/pipeline';

export interface McpServerHandle {
  url: string;
  boundary: IdentityBoundary;
  close(): Promise<void>;
}

export function serveOrdersMcp(options: {
  http: Server;
  url: string;
  idpIssuer: string;
  broker: { issuer: string; credentials: ServiceCredentials };
  tokenStore: SharedTokenStore;
  ordersApi: string;
  billingMcp: string;
  /** Its envelope signing keys, shared by every instance of the server. Default: a fresh key. */
  envelopeKeys?: EnvelopeKeys;
  audit: AuditSink;
  logger: Logger;
  /** The revocations this server receives from the broker (its Shared Signals feed). */
  revocations?: RevocationCheck;
  /** The approval page's client at the IdP, and where approvals are kept (shared by every instance). */
  approval: { clientSecret: string; store: ApprovalStore };
  /** Its workload certificate, presented to the hops it calls (mutual TLS). Default: none. */
  tls?: ClientTls;
  /** The broker binds its tokens to that certificate (RFC 8705 §3): an HTTPS broker that sees it. */
  certificateBound?: boolean;
}): McpServerHandle {
  // Its tokens are bound to its workload certificate (RFC 8705 §3) when it has one.
  const certificateBound =
    options.tls && options.certificateBound ? { senderConstraint: { mtls: options.tls } } : {};
  const boundary = new IdentityBoundary({
    resource: options.url,
    authorizationServers: [options.idpIssuer],
    tokenVerifier: jwtAccessTokenVerifier({ issuer: options.idpIssuer, audience: options.url }),
    envelopes: new EnvelopeIssuer({
      issuer: options.url,
      trustDomain: TRUST_DOMAIN,
      keys: options.envelopeKeys ?? EnvelopeKeyRing.generate({ algorithm: 'ES256', retentionSeconds: 900 }),
    }),
    audit: options.audit,
    logger: options.logger,
    ...(options.revocations ? { revocations: options.revocations } : {}),
    scopesSupported: ORDERS_MCP_SCOPES,
    // MCP 2026-07-28: a broader scope implies narrower ones; a step-up challenge names the least one.
    scopeImplications: { 'orders:write': ['orders:read'] },
    resourceName: 'Orders (Baton demo)',
    policy: { policies: ORDERS_MCP_TOOL_POLICY, inputAttributes: { quantity: 'Long' } },
    approval: {
      issuer: options.idpIssuer,
      clientId: ORDERS_MCP_APPROVAL_CLIENT_ID,
      clientSecret: options.approval.clientSecret,
      store: options.approval.store,
    },
    downstream: {
      broker: options.broker,
      tokenStore: options.tokenStore,
      ...(options.tls ? { tls: options.tls } : {}),
      services: [
        {
          name: 'orders-api',
          url: options.ordersApi,
          mode: 'service_identity',
          scopes: ['orders:read'],
          ...certificateBound,
        },
        {
          name: 'billing-mcp',
          url: options.billingMcp,
          mode: 'on_behalf_of',
          scopes: ['billing:read'],
          ...certificateBound,
        },
      ],
    },
  });
  const mcp = createMcpHandler(() => buildOrdersServer(boundary));
  serveNodeRequests(options.http, boundary.protect(mcp), { logger: options.logger });
  return { url: options.url, boundary, close: () => mcp.close() };
}
