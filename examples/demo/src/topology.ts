import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { AuditSink } from '@baton/audit';
import { createLogger } from '@baton/audit';
import { IDENTITY_PROVIDER_SIGNALS_PATH } from '@baton/broker';
import {
  type ClientIdMetadataDocumentOptions,
  type DemoIdp,
  type DemoUser,
  type ResourceServerConfig,
  startDemoIdp,
} from '@baton/demo-idp';
import { keyValueApprovalStore } from '@baton/mcp-server';
import { createVault, FileKeyStore, vaultKeyValue } from '@baton/vault';
import { serveBillingApi, serveOrdersApi } from './apis.ts';
import { serveBillingMcp } from './billing-mcp.ts';
import { type DemoBroker, startDemoBroker } from './broker.ts';
import { startBrokerFleet } from './broker-fleet.ts';
import { bracketed, type DemoConfig, defaultPublicHost } from './config.ts';
import { sharedEnvelopeKeys } from './envelope-keys.ts';
import { closeServer, freePort, listen } from './listen.ts';
import { type LoadBalancer, startLoadBalancer } from './load-balancer.ts';
import {
  approvalClientRegistration,
  type McpServerHandle,
  ORDERS_MCP_SCOPES,
  serveOrdersMcp,
} from './orders-mcp.ts';
import { receiveRevocations } from './revocation-feeds.ts';
import { type DemoPki, startDemoPki, TRUST_DOMAIN } from './workload-pki.ts';

/** How many instances of the broker and of the orders MCP server run when scaled out. */
const INSTANCES = 2;

export interface DemoTopology {
  idp: DemoIdp;
  broker: DemoBroker;
  /** The orders MCP server (scaled out: its first instance; every instance serves the same resource). */
  ordersMcp: McpServerHandle;
  billingMcp: McpServerHandle;
  urls: { ordersMcp: string; billingMcp: string; ordersApi: string; billingApi: string };
  /** Scaled out: the load balancers in front of the broker and the orders MCP server instances. */
  balancers?: { broker: LoadBalancer; ordersMcp: LoadBalancer };
  /** Each hop's workload identity (SPIFFE ID; with the internal PKI, its certificate). */
  pki: DemoPki;
  close(): Promise<void>;
}

/**
 * Everything the demo runs: identity provider, token broker, two MCP servers behind the Baton
 * boundary, and two APIs behind the downstream verifier. One audit sink sees every hop.
 */
export async function startTopology(
  config: Omit<DemoConfig, 'once' | 'consolePort' | 'publicHost'> & { publicHost?: string },
  options: {
    audit: AuditSink;
    /**
     * Scaled out, the audit sink of each instance's own writer (`orders-mcp-1`, `broker-2`, …).
     * Default: `audit` for every instance.
     */
    auditOf?: (writer: string) => AuditSink;
    logs?: (component: string) => Writable;
    users?: DemoUser[];
    /** Where the vault key file lives. Default: a fresh temporary directory. */
    dataDir?: string;
    /**
     * Mutual TLS between the hops (an internal CA made at start, a workload certificate per hop). Default
     * on; off, every hop keeps its SPIFFE ID and speaks plain HTTP.
     */
    mutualTls?: boolean;
    /** More clients and resources for the IdP (the audit console's), and the agent's metadata documents. */
    idp?: {
      clients?: Array<Record<string, unknown>>;
      resources?: ResourceServerConfig[];
      clientIdMetadataDocuments?: ClientIdMetadataDocumentOptions;
    };
  },
): Promise<DemoTopology> {
  const host = config.host;
  // Every URL names the host clients reach the demo by, which is not 0.0.0.0 when binding all interfaces.
  const publicHost = config.publicHost ?? defaultPublicHost(host);
  const { scaleOut } = config;
  const auditOf = options.auditOf ?? (() => options.audit);
  // Workload identities first: the hops' URLs are https when they serve their certificates.
  const pki = await startDemoPki({ publicHost, mutualTls: options.mutualTls ?? true });
  const { identities } = pki;
  // Scaled out, agents reach the orders MCP server's load balancer; its instances listen on free ports.
  const ordersMcpBalancer = scaleOut
    ? await startLoadBalancer({ host, port: config.ordersMcpPort, publicHost, path: '/mcp' })
    : undefined;
  const ordersMcpServer = ordersMcpBalancer ?? (await listen(host, config.ordersMcpPort, '/mcp', publicHost));
  const ordersMcpInstances = ordersMcpBalancer
    ? await Promise.all(Array.from({ length: INSTANCES }, () => listen(host, 0, '/mcp')))
    : [ordersMcpServer];
  // The agent reaches the orders MCP server; the billing MCP server and both APIs are reached only by
  // other hops, which present their workload certificates (mutual TLS, when the PKI is on).
  const billingMcpServer = await listen(
    host,
    config.billingMcpPort,
    '/mcp',
    publicHost,
    identities['billing-mcp'].serverTls,
  );
  const ordersApiServer = await listen(
    host,
    config.ordersApiPort,
    '/api',
    publicHost,
    identities['orders-api'].serverTls,
  );
  const billingApiServer = await listen(
    host,
    config.billingApiPort,
    '/api',
    publicHost,
    identities['billing-api'].serverTls,
  );
  const urls = {
    ordersMcp: ordersMcpServer.url,
    billingMcp: billingMcpServer.url,
    ordersApi: ordersApiServer.url,
    billingApi: billingApiServer.url,
  };
  // The broker's issuer is known before anything starts: the identity provider sends it Security Event
  // Tokens (sign-outs, disabled accounts), and its policy names its own Shared Signals audience.
  const brokerPort = config.brokerPort !== 0 ? config.brokerPort : await freePort(host);
  // One broker serves HTTPS with its workload certificate; a scaled-out fleet stays behind its HTTP
  // load balancer (a TLS-terminating proxy would hide the client certificates mutual TLS needs).
  const brokerCertificate = scaleOut ? undefined : identities.broker.certificate;
  const brokerIssuer = `${brokerCertificate ? 'https' : 'http'}://${bracketed(publicHost)}:${brokerPort}`;
  // Each hop's callers reach it only when its certificate names it (not merely the demo CA and host).
  pki.pin(brokerIssuer, 'broker');
  pki.pin(urls.billingMcp, 'billing-mcp');
  pki.pin(urls.ordersApi, 'orders-api');
  pki.pin(urls.billingApi, 'billing-api');
  pki.pin(urls.ordersMcp, 'orders-mcp');
  const approvalSecret = randomBytes(24).toString('base64url');
  const idp = await startDemoIdp({
    host,
    publicHost,
    port: config.idpPort,
    ...(options.users ? { users: options.users } : {}),
    resources: [
      { resource: urls.ordersMcp, scopes: ORDERS_MCP_SCOPES },
      { resource: urls.billingMcp, scopes: ['billing:read'] },
      ...(options.idp?.resources ?? []),
    ],
    // The orders MCP server's approval page signs people in here (large orders need their approval).
    clients: [approvalClientRegistration(urls.ordersMcp, approvalSecret), ...(options.idp?.clients ?? [])],
    ...(options.idp?.clientIdMetadataDocuments
      ? { clientIdMetadataDocuments: options.idp.clientIdMetadataDocuments }
      : {}),
    // Sign-outs and disabled accounts reach the broker as Security Event Tokens (CAEP, RISC), and from
    // there every hop.
    signals: {
      receivers: [{ endpoint: `${brokerIssuer}${IDENTITY_PROVIDER_SIGNALS_PATH}`, audience: brokerIssuer }],
      // The identity provider is not a hop: it trusts the demo CA to reach the broker, with no certificate.
      fetch: pki.fetchTrustingCa,
    },
  });
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'baton-demo-')));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  let broker: DemoBroker & { balancer?: LoadBalancer };
  if (scaleOut) {
    // Broker processes on PostgreSQL + Redis behind a load balancer whose URL is the issuer.
    broker = await startBrokerFleet({
      host,
      publicHost,
      port: brokerPort,
      idpIssuer: idp.issuer,
      urls,
      store: {
        postgresUrl: scaleOut.postgresUrl,
        redisUrl: scaleOut.redisUrl,
        keyPrefix: scaleOut.redisKeyPrefix,
      },
      dataDir,
      audit: auditOf,
      ...(options.logs ? { logs: options.logs } : {}),
      instances: INSTANCES,
    });
  } else {
    broker = await startDemoBroker({
      host,
      port: brokerPort,
      ...(publicHost === host && !brokerCertificate ? {} : { issuer: brokerIssuer }),
      idpIssuer: idp.issuer,
      urls,
      audit: options.audit,
      // Client certificates asked for, verified against the demo CA, not required: the identity
      // provider pushes its signals without one.
      ...(brokerCertificate && pki.caPem
        ? {
            tls: {
              cert: brokerCertificate.chainPem,
              key: brokerCertificate.privateKeyPem,
              clientCa: pki.caPem,
              clientCertificates: 'optional' as const,
            },
          }
        : {}),
    });
  }
  // Exchanged downstream tokens are kept in the encrypted vault (envelope encryption, key file kept
  // owner-only in the data directory), shared by both MCP servers' caches.
  const vault = createVault({
    keyStore: await FileKeyStore.open({ path: join(dataDir, 'vault-keys.json') }),
  });
  const tokenStore = vaultKeyValue(vault, 'downstream');
  // Approvals (large orders) in the same vault: every orders MCP instance sees the person's answer.
  const approvals = keyValueApprovalStore(vaultKeyValue(vault, 'approvals'));
  const logger = (component: string) =>
    createLogger({
      name: component,
      ...(options.logs ? { destination: options.logs(component) as never } : { level: 'silent' }),
    });
  // Instances of one MCP server sign envelopes with one key, whichever instance serves the JWKS: each
  // loads it from the one file, as separate processes would.
  const envelopeKeys = scaleOut
    ? await Promise.all(ordersMcpInstances.map(() => sharedEnvelopeKeys(dataDir)))
    : [];
  // Every hop receives the broker's revocations (its own Shared Signals stream, polled): each instance
  // of the orders MCP server, the billing MCP server and both APIs.
  const feedErrors = (component: string) => {
    const log = logger(component);
    return (error: unknown) => log.warn({ err_name: (error as Error)?.name }, 'revocation feed');
  };
  const feeds = {
    ordersMcp: await Promise.all(
      ordersMcpInstances.map((_, index) =>
        receiveRevocations(
          broker.issuer,
          broker.ordersMcp,
          feedErrors(`orders-mcp-${index + 1}`),
          identities['orders-mcp'].fetch,
        ),
      ),
    ),
    billingMcp: await receiveRevocations(
      broker.issuer,
      broker.billingMcp,
      feedErrors('billing-mcp'),
      identities['billing-mcp'].fetch,
    ),
    ordersApi: await receiveRevocations(
      broker.issuer,
      broker.ordersApi,
      feedErrors('orders-api'),
      identities['orders-api'].fetch,
    ),
    billingApi: await receiveRevocations(
      broker.issuer,
      broker.billingApi,
      feedErrors('billing-api'),
      identities['billing-api'].fetch,
    ),
  };
  const ordersMcpHandles = ordersMcpInstances.map((instance, index) =>
    serveOrdersMcp({
      http: instance.http,
      url: urls.ordersMcp,
      idpIssuer: idp.issuer,
      broker: { issuer: broker.issuer, credentials: broker.ordersMcp },
      tokenStore,
      approval: { clientSecret: approvalSecret, store: approvals },
      ordersApi: urls.ordersApi,
      billingMcp: urls.billingMcp,
      ...(envelopeKeys[index] ? { envelopeKeys: envelopeKeys[index] } : {}),
      audit: scaleOut ? auditOf(`orders-mcp-${index + 1}`) : options.audit,
      logger: logger(scaleOut ? `orders-mcp-${index + 1}` : 'orders-mcp'),
      revocations: feeds.ordersMcp[index]!.feed,
      ...(identities['orders-mcp'].clientTls ? { tls: identities['orders-mcp'].clientTls } : {}),
      certificateBound: brokerCertificate !== undefined,
    }),
  );
  const ordersMcp = ordersMcpHandles[0]!;
  if (ordersMcpBalancer) ordersMcpBalancer.upstreams = ordersMcpInstances.map(({ url }) => url);
  const billingMcp = serveBillingMcp({
    http: billingMcpServer.http,
    url: urls.billingMcp,
    idpIssuer: idp.issuer,
    broker: { issuer: broker.issuer, credentials: broker.billingMcp },
    tokenStore,
    billingApi: urls.billingApi,
    audit: options.audit,
    logger: logger('billing-mcp'),
    revocations: feeds.billingMcp.feed,
    ...(identities['billing-mcp'].clientTls ? { tls: identities['billing-mcp'].clientTls } : {}),
    certificateBound: brokerCertificate !== undefined,
    fetch: identities['billing-mcp'].fetch,
  });
  serveOrdersApi({
    http: ordersApiServer.http,
    url: urls.ordersApi,
    brokerIssuer: broker.issuer,
    trustDomain: TRUST_DOMAIN,
    caller: {
      clientId: broker.ordersMcp.clientId,
      envelopeIssuer: urls.ordersMcp,
      envelopeJwksUri: ordersMcp.boundary.envelopeJwksUrl,
    },
    audit: options.audit,
    logger: logger('orders-api'),
    revocations: feeds.ordersApi.feed,
    brokerFetch: identities['orders-api'].fetch,
    certificateBound: brokerCertificate !== undefined,
  });
  serveBillingApi({
    http: billingApiServer.http,
    url: urls.billingApi,
    brokerIssuer: broker.issuer,
    audit: options.audit,
    logger: logger('billing-api'),
    revocations: feeds.billingApi.feed,
    brokerFetch: identities['billing-api'].fetch,
    certificateBound: brokerCertificate !== undefined,
  });
  return {
    idp,
    broker,
    ordersMcp,
    billingMcp,
    urls,
    pki,
    ...(broker.balancer && ordersMcpBalancer
      ? { balancers: { broker: broker.balancer, ordersMcp: ordersMcpBalancer } }
      : {}),
    async close() {
      // The public entry first (no new requests reach any instance), then each instance drains.
      await ordersMcpBalancer?.close();
      for (const handle of ordersMcpHandles) await handle.close();
      for (const keys of envelopeKeys) keys.close();
      await billingMcp.close();
      for (const feed of [...feeds.ordersMcp, feeds.billingMcp, feeds.ordersApi, feeds.billingApi])
        await feed.close();
      for (const server of [...ordersMcpInstances, billingMcpServer, ordersApiServer, billingApiServer])
        await closeServer(server.http);
      await broker.close();
      await idp.close();
      await pki.close();
    },
  };
}
