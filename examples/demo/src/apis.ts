import type { Server } from 'node:http';
import type { AuditSink } from '@baton/audit';
import { downstreamVerifier, type TrustedCaller, withDownstreamIdentity } from '@baton/downstream-verifier';
import type { RevocationCheck } from '@baton/resource-server';
import { type RefusalLogger, serveNodeRequests } from '@baton/resource-server/node';
import { invoicesOf, ordersOf } from './data.ts';

/**
 * The orders API accepts the orders MCP server calling as itself (service identity) with the envelope
 * it minted; it answers with the orders of the person the envelope names, and only theirs.
 */
export function serveOrdersApi(options: {
  http: Server;
  url: string;
  brokerIssuer: string;
  trustDomain: string;
  caller: TrustedCaller;
  audit: AuditSink;
  logger?: RefusalLogger;
  /** The revocations this API receives from the broker (its Shared Signals feed). */
  revocations?: RevocationCheck;
  /** How it reaches the broker (its JWKS): as itself, over its workload certificate. */
  brokerFetch?: typeof fetch;
  /** Accept tokens bound to the caller's client certificate (served over mutual TLS). */
  certificateBound?: boolean;
}): void {
  const verifier = downstreamVerifier({
    audience: options.url,
    broker: { issuer: options.brokerIssuer, ...(options.brokerFetch ? { fetch: options.brokerFetch } : {}) },
    // Tokens bound to the caller's workload certificate are checked against the connection's (RFC 8705 §3).
    ...(options.certificateBound ? { senderConstraint: { mtls: {} } } : {}),
    serviceIdentity: { trustDomain: options.trustDomain, callers: [options.caller] },
    ...(options.revocations ? { revocations: options.revocations } : {}),
  });
  const handler = withDownstreamIdentity(
    { verifier, requiredScopes: ['orders:read'], audit: options.audit },
    (_request, identity) =>
      Response.json({
        user: identity.user,
        mode: identity.mode,
        chain: identity.chain,
        orders: ordersOf(identity.user),
      }),
  );
  serveNodeRequests(options.http, { fetch: handler }, { logger: options.logger });
}

/** The billing API accepts only tokens the broker exchanged on the person's behalf. */
export function serveBillingApi(options: {
  http: Server;
  url: string;
  brokerIssuer: string;
  audit: AuditSink;
  logger?: RefusalLogger;
  revocations?: RevocationCheck;
  /** How it reaches the broker (its JWKS): as itself, over its workload certificate. */
  brokerFetch?: typeof fetch;
  /** Accept tokens bound to the caller's client certificate (served over mutual TLS). */
  certificateBound?: boolean;
}): void {
  const verifier = downstreamVerifier({
    audience: options.url,
    broker: { issuer: options.brokerIssuer, ...(options.brokerFetch ? { fetch: options.brokerFetch } : {}) },
    // Tokens bound to the caller's workload certificate are checked against the connection's (RFC 8705 §3).
    ...(options.certificateBound ? { senderConstraint: { mtls: {} } } : {}),
    ...(options.revocations ? { revocations: options.revocations } : {}),
  });
  const handler = withDownstreamIdentity(
    { verifier, requiredScopes: ['billing:read'], audit: options.audit },
    (_request, identity) =>
      Response.json({
        user: identity.user,
        mode: identity.mode,
        chain: identity.chain,
        invoices: invoicesOf(identity.user),
      }),
  );
  serveNodeRequests(options.http, { fetch: handler }, { logger: options.logger });
}
