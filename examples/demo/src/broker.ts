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
  broker: Broker;
  /** Each MCP server's private_key_jwt credentials (their keys never leave the process). */
  ordersMcp: ServiceCredentials;
  billingMcp: ServiceCredentials;
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

/** The broker with its embedded store and the demo's declared policy (`policy.cedar`). */
export async function startDemoBroker(options: {
  host: string;
  port: number;
  /** The issuer clients see, when it is not `http://<host>:<port>` (binding 0.0.0.0). */
  issuer?: string;
  idpIssuer: string;
  urls: { ordersMcp: string; billingMcp: string; ordersApi: string; billingApi: string };
  audit: AuditSink;
}): Promise<DemoBroker> {
  const { urls } = options;
  const ordersMcp = await serviceCredentials('orders-mcp');
  const billingMcp = await serviceCredentials('billing-mcp');
  const policy = (await readFile(new URL('../policy.cedar', import.meta.url), 'utf8'))
    .replaceAll('{{BILLING_MCP}}', urls.billingMcp)
    .replaceAll('{{BILLING_API}}', urls.billingApi)
    .replaceAll('{{ORDERS_API}}', urls.ordersApi);
  const broker = await startBroker({
    host: options.host,
    port: options.port,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    trustedIssuers: [{ issuer: options.idpIssuer }],
    audiences: [
      { resource: urls.billingMcp, scopes: ['billing:read'] },
      { resource: urls.ordersApi, scopes: ['orders:read'] },
      { resource: urls.billingApi, scopes: ['billing:read'] },
    ],
    policy: createCedarPolicyEngine({ policies: policy, defaults: { lifetimeSeconds: 300, maxDepth: 2 } }),
    audit: options.audit,
    clients: [
      // The orders MCP server calls the orders API as itself (service identity), reading orders only.
      serviceClient(ordersMcp, 'orders MCP server (Baton demo)', urls.ordersMcp, {
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        scopes: ['orders:read'],
      }),
      serviceClient(billingMcp, 'billing MCP server (Baton demo)', urls.billingMcp),
    ],
    // Other services register themselves with this operator-issued token (RFC 7591 §3).
    initialAccessToken: randomBytes(24).toString('base64url'),
  });
  return { broker, ordersMcp, billingMcp };
}

/** Proves a service can authenticate: its own service-identity token for an audience. */
export async function serviceTokenLifetime(
  demo: DemoBroker,
  credentials: ServiceCredentials,
  resource: string,
) {
  return (await clientCredentialsToken(demo.broker.issuer, credentials, { resource })).expires_in;
}
