import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  clientCredentialsToken,
  type ServiceClientMetadataOptions,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
} from '@baton/broker-client';

export interface DemoBroker {
  /** The issuer every client and API sees (scaled out: the load balancer's URL). */
  issuer: string;
  /** Each MCP server's private_key_jwt credentials (their keys never leave the process). */
  ordersMcp: ServiceCredentials;
  billingMcp: ServiceCredentials;
  /** Stops the broker (every instance), letting requests in flight finish. */
  close(): Promise<void>;
}

/** The demo's resources, by role. */
export interface DemoUrls {
  ordersMcp: string;
  billingMcp: string;
  ordersApi: string;
  billingApi: string;
}

/**
 * Operator-approved (static) registration of one of the demo's MCP servers: its public key, the
 * resource it serves, and what else the operator grants it. Both are operator-run Baton hops, so the
 * broker joins their `traceparent` and one question stays one trace.
 */
function serviceClient(
  credentials: ServiceCredentials,
  name: string,
  resource: string,
  approved: Pick<ServiceClientMetadataOptions, 'grantTypes' | 'scopes'> = {},
) {
  return serviceClientMetadata({
    clientId: credentials.clientId,
    clientName: name,
    jwks: credentials.jwks,
    resources: [resource],
    traceTrusted: true,
    ...approved,
  });
}

/** The demo's declared policy (`policy.cedar`) for these resources. */
export async function demoPolicy(urls: DemoUrls): Promise<string> {
  return (await readFile(new URL('../policy.cedar', import.meta.url), 'utf8'))
    .replaceAll('{{BILLING_MCP}}', urls.billingMcp)
    .replaceAll('{{BILLING_API}}', urls.billingApi)
    .replaceAll('{{ORDERS_API}}', urls.ordersApi);
}

/** What the demo's broker issues tokens for. */
export function demoAudiences(urls: DemoUrls) {
  return [
    { resource: urls.billingMcp, scopes: ['billing:read'] },
    { resource: urls.ordersApi, scopes: ['orders:read'] },
    { resource: urls.billingApi, scopes: ['billing:read'] },
  ];
}

/** The policy's defaults: five-minute tokens, at most two hops of delegation. */
export const POLICY_DEFAULTS = { lifetimeSeconds: 300, maxDepth: 2 };

/** The demo's two MCP servers, each with a fresh key pair (the private keys never leave this process). */
export async function demoServiceCredentials() {
  return {
    ordersMcp: await serviceCredentials('orders-mcp'),
    billingMcp: await serviceCredentials('billing-mcp'),
  };
}

/** The operator-approved registrations of both MCP servers. */
export function demoClients(
  credentials: { ordersMcp: ServiceCredentials; billingMcp: ServiceCredentials },
  urls: DemoUrls,
) {
  return [
    // The orders MCP server calls the orders API as itself (service identity), reading orders only.
    serviceClient(credentials.ordersMcp, 'orders MCP server (Baton demo)', urls.ordersMcp, {
      grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
      scopes: ['orders:read'],
    }),
    serviceClient(credentials.billingMcp, 'billing MCP server (Baton demo)', urls.billingMcp),
  ];
}

/** The broker with its embedded store and the demo's declared policy (`policy.cedar`). */
export async function startDemoBroker(options: {
  host: string;
  port: number;
  /** The issuer clients see, when it is not `http://<host>:<port>` (binding 0.0.0.0). */
  issuer?: string;
  idpIssuer: string;
  urls: DemoUrls;
  audit: AuditSink;
}): Promise<DemoBroker> {
  const { urls } = options;
  const credentials = await demoServiceCredentials();
  const broker: Broker = await startBroker({
    host: options.host,
    port: options.port,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    trustedIssuers: [{ issuer: options.idpIssuer }],
    audiences: demoAudiences(urls),
    policy: createCedarPolicyEngine({ policies: await demoPolicy(urls), defaults: POLICY_DEFAULTS }),
    audit: options.audit,
    clients: demoClients(credentials, urls),
    // Other services register themselves with this operator-issued token (RFC 7591 §3).
    initialAccessToken: randomBytes(24).toString('base64url'),
  });
  return { issuer: broker.issuer, ...credentials, close: () => broker.close() };
}

/** Proves a service can authenticate: its own service-identity token for an audience. */
export async function serviceTokenLifetime(
  demo: DemoBroker,
  credentials: ServiceCredentials,
  resource: string,
) {
  return (await clientCredentialsToken(demo.issuer, credentials, { resource })).expires_in;
}
