import type { Server } from 'node:http';
import type { AuditSink } from '@baton/audit';
import type { ServiceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { type ClientTls, IdentityBoundary, type SharedTokenStore } from '@baton/mcp-server';
import { byIssuer, jwtAccessTokenVerifier, type RevocationCheck } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { McpServerHandle } from './orders-mcp.ts';
import { TRUST_DOMAIN } from './workload-pki.ts';

/** The "billing" MCP server: reached by agents directly, or by other MCP servers on a person's behalf. */
export function buildBillingServer(boundary: IdentityBoundary): McpServer {
  const server = new McpServer({ name: 'billing', version: '1.0.0' });
  boundary.registerTool(
    server,
    'list_invoices',
    { description: 'Lists your invoices.', scopes: ['billing:read'], annotations: { readOnlyHint: true } },
    async (_invocation, context) => {
      const response = await context.downstream.fetch('billing-api', 'invoices');
      const body = (await response.json()) as { invoices: unknown[] };
      return { content: [{ type: 'text', text: JSON.stringify(body.invoices) }] };
    },
  );
  return server;
}

export function serveBillingMcp(options: {
  http: Server;
  url: string;
  idpIssuer: string;
  broker: { issuer: string; credentials: ServiceCredentials };
  tokenStore: SharedTokenStore;
  billingApi: string;
  audit: AuditSink;
  logger: Logger;
  /** The revocations this server receives from the broker (its Shared Signals feed). */
  revocations?: RevocationCheck;
  /** Its workload certificate, presented to the hops it calls (mutual TLS). Default: none. */
  tls?: ClientTls;
  /**
   * Tokens are bound to the workload certificates (RFC 8705 §3): its own to the billing API, and the
   * orders MCP server's to it, checked against the connection's certificate.
   */
  certificateBound?: boolean;
  /** How it reaches the broker (its JWKS): as itself, over its certificate. Default: the global fetch. */
  fetch?: typeof fetch;
}): McpServerHandle {
  const boundary = new IdentityBoundary({
    resource: options.url,
    authorizationServers: [options.idpIssuer, options.broker.issuer],
    // Agents come with identity-provider tokens; other MCP servers with tokens the broker exchanged.
    tokenVerifier: byIssuer({
      [options.idpIssuer]: jwtAccessTokenVerifier({ issuer: options.idpIssuer, audience: options.url }),
      [options.broker.issuer]: jwtAccessTokenVerifier({
        issuer: options.broker.issuer,
        audience: options.url,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    }),
    envelopes: new EnvelopeIssuer({
      issuer: options.url,
      trustDomain: TRUST_DOMAIN,
      keys: EnvelopeKeyRing.generate({ algorithm: 'ES256', retentionSeconds: 900 }),
    }),
    audit: options.audit,
    logger: options.logger,
    ...(options.revocations ? { revocations: options.revocations } : {}),
    scopesSupported: ['billing:read'],
    resourceName: 'Billing (Baton demo)',
    // The orders MCP server's tokens come bound to its certificate: checked against the connection's.
    ...(options.certificateBound ? { senderConstraint: { mtls: {} } } : {}),
    downstream: {
      broker: options.broker,
      tokenStore: options.tokenStore,
      ...(options.tls ? { tls: options.tls } : {}),
      services: [
        {
          name: 'billing-api',
          url: options.billingApi,
          mode: 'on_behalf_of',
          scopes: ['billing:read'],
          // Its tokens are bound to its workload certificate (RFC 8705 §3) when it has one.
          ...(options.tls && options.certificateBound ? { senderConstraint: { mtls: options.tls } } : {}),
        },
      ],
    },
  });
  const mcp = createMcpHandler(() => buildBillingServer(boundary));
  serveNodeRequests(options.http, boundary.protect(mcp), { logger: options.logger });
  return { url: options.url, boundary, close: () => mcp.close() };
}
