import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AuditSink } from '@baton/audit';
import { type Broker, type BrokerTlsOptions, sharedSignalsAudience, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  clientCredentialsToken,
  type ServiceClientMetadataOptions,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
} from '@baton/broker-client';
import { bracketed } from './config.ts';

export interface DemoBroker {
  /** The issuer every client and API sees (scaled out: the load balancer's URL). */
  issuer: string;
  /** Each MCP server's private_key_jwt credentials (their keys never leave the process). */
  ordersMcp: ServiceCredentials;
  billingMcp: ServiceCredentials;
  /** The APIs' credentials: they authenticate to the broker only to receive its revocations. */
  ordersApi: ServiceCredentials;
  billingApi: ServiceCredentials;
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

/** The demo's declared policy (`policy.cedar`) for these resources and this broker. */
export async function demoPolicy(urls: DemoUrls, brokerIssuer: string): Promise<string> {
  return (await readFile(new URL('../policy.cedar', import.meta.url), 'utf8'))
    .replaceAll('{{BROKER_SSF}}', sharedSignalsAudience(brokerIssuer))
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

/**
 * The demo's services, each with a fresh key pair (the private keys never leave this process): the
 * two MCP servers, and the two APIs, which hold broker credentials only to receive revocations.
 */
export async function demoServiceCredentials() {
  return {
    ordersMcp: await serviceCredentials('orders-mcp'),
    billingMcp: await serviceCredentials('billing-mcp'),
    ordersApi: await serviceCredentials('orders-api'),
    billingApi: await serviceCredentials('billing-api'),
  };
}

/** The operator-approved registrations of both MCP servers. */
export function demoClients(
  credentials: Awaited<ReturnType<typeof demoServiceCredentials>>,
  urls: DemoUrls,
  /**
   * Bind the MCP servers' tokens to the workload certificate they present (RFC 8705 §3,
   * `cnf.x5t#S256`): only with a broker that sees client certificates (HTTPS, not behind a proxy).
   */
  certificateBound = false,
) {
  const bound = certificateBound ? { tls_client_certificate_bound_access_tokens: true } : {};
  return [
    // The orders MCP server calls the orders API as itself (service identity), reading orders only.
    {
      ...serviceClient(credentials.ordersMcp, 'orders MCP server (Baton demo)', urls.ordersMcp, {
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        scopes: ['orders:read'],
      }),
      ...bound,
    },
    // Every hop receives the broker's revocations (a Shared Signals stream, client_credentials for
    // `<issuer>/ssf`, allowed by the policy's `hops-receive-revocations`).
    {
      ...serviceClient(credentials.billingMcp, 'billing MCP server (Baton demo)', urls.billingMcp, {
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
      }),
      ...bound,
    },
    serviceClient(credentials.ordersApi, 'orders API (Baton demo)', urls.ordersApi, {
      grantTypes: ['client_credentials'],
    }),
    serviceClient(credentials.billingApi, 'billing API (Baton demo)', urls.billingApi, {
      grantTypes: ['client_credentials'],
    }),
  ];
}

/** Which of the demo's clients receive revocations: every hop. */
export const DEMO_RECEIVERS = ['orders-mcp', 'billing-mcp', 'orders-api', 'billing-api'];

/** The broker with its embedded store and the demo's declared policy (`policy.cedar`). */
export async function startDemoBroker(options: {
  host: string;
  port: number;
  /** The issuer clients see, when it is not `http://<host>:<port>` (binding 0.0.0.0). */
  issuer?: string;
  idpIssuer: string;
  urls: DemoUrls;
  audit: AuditSink;
  /** HTTPS with its workload certificate, asking clients for theirs (mutual TLS, RFC 8705). */
  tls?: BrokerTlsOptions;
}): Promise<DemoBroker> {
  const { urls } = options;
  const credentials = await demoServiceCredentials();
  const broker: Broker = await startBroker({
    host: options.host,
    port: options.port,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    trustedIssuers: [{ issuer: options.idpIssuer }],
    audiences: demoAudiences(urls),
    policy: createCedarPolicyEngine({
      policies: await demoPolicy(urls, options.issuer ?? `http://${bracketed(options.host)}:${options.port}`),
      defaults: POLICY_DEFAULTS,
    }),
    audit: options.audit,
    clients: demoClients(credentials, urls, options.tls !== undefined),
    // Other services register themselves with this operator-issued token (RFC 7591 §3).
    initialAccessToken: randomBytes(24).toString('base64url'),
    // Every hop polls its revocations (RFC 8936) from the broker's Shared Signals transmitter; the
    // identity provider pushes its sign-outs and disabled accounts (RFC 8935) to the broker.
    sharedSignals: { receivers: DEMO_RECEIVERS },
    identityProviderSignals: { issuers: [{ issuer: options.idpIssuer }] },
    ...(options.tls ? { tls: options.tls } : {}),
  });
  return { issuer: broker.issuer, ...credentials, close: () => broker.close() };
}

/** Proves a service can authenticate: its own service-identity token for an audience. */
export async function serviceTokenLifetime(
  demo: DemoBroker,
  credentials: ServiceCredentials,
  resource: string,
  /** How the service reaches the broker (over its workload certificate). Default: the global fetch. */
  fetchAsService?: typeof fetch,
) {
  return (
    await clientCredentialsToken(
      demo.issuer,
      credentials,
      { resource },
      fetchAsService ? { fetch: fetchAsService } : {},
    )
  ).expires_in;
}
