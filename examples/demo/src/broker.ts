import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AuditSink } from '@baton/audit';
import { type Broker, startBroker, TOKEN_EXCHANGE_GRANT } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import { clientCredentialsToken, type ServiceCredentials, serviceCredentials } from '@baton/broker-client';

/** The orders API: the downstream audience tools will reach through the broker. */
export const ORDERS_API = 'http://127.0.0.1:4003/api';

export interface DemoBroker {
  broker: Broker;
  /** The orders MCP server's private_key_jwt credentials (its key never leaves the process). */
  ordersMcp: ServiceCredentials;
}

/**
 * The broker with its embedded store and the demo's declared policy (`policy.cedar`). The orders MCP
 * server is an operator-approved client (RFC 7591 §3): registered with its public key, so that the
 * policy can name it; it authenticates with `private_key_jwt`.
 */
export async function startDemoBroker(options: {
  host: string;
  port: number;
  idpIssuer: string;
  ordersMcpResource: string;
  audit: AuditSink;
}): Promise<DemoBroker> {
  const ordersMcp = await serviceCredentials('orders-mcp');
  const broker = await startBroker({
    host: options.host,
    port: options.port,
    trustedIssuers: [{ issuer: options.idpIssuer }],
    audiences: [{ resource: ORDERS_API, scopes: ['orders:read'] }],
    policy: createCedarPolicyEngine({
      policies: await readFile(new URL('../policy.cedar', import.meta.url), 'utf8'),
      defaults: { lifetimeSeconds: 300, maxDepth: 2 },
    }),
    audit: options.audit,
    clients: [
      {
        client_id: 'orders-mcp',
        client_name: 'orders MCP server (Baton demo)',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: ordersMcp.jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        response_types: [],
        redirect_uris: [],
        baton_resources: [options.ordersMcpResource],
      } as never,
    ],
    // Other services register themselves with this operator-issued token (RFC 7591 §3).
    initialAccessToken: randomBytes(24).toString('base64url'),
  });
  return { broker, ordersMcp };
}

/** Proves the orders MCP server can authenticate: its own service-identity token for the orders API. */
export async function authenticateOrdersMcp(demo: DemoBroker): Promise<number> {
  const token = await clientCredentialsToken(demo.broker.issuer, demo.ordersMcp, { resource: ORDERS_API });
  return token.expires_in;
}
