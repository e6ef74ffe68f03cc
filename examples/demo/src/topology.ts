import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { AuditSink } from '@baton/audit';
import { createLogger } from '@baton/audit';
import { type DemoIdp, type DemoUser, type ResourceServerConfig, startDemoIdp } from '@baton/demo-idp';
import { createVault, FileKeyStore, vaultKeyValue } from '@baton/vault';
import { serveBillingApi, serveOrdersApi } from './apis.ts';
import { serveBillingMcp } from './billing-mcp.ts';
import { type DemoBroker, startDemoBroker } from './broker.ts';
import { bracketed, type DemoConfig, defaultPublicHost } from './config.ts';
import { closeServer, freePort, listen } from './listen.ts';
import { type McpServerHandle, ORDERS_MCP_SCOPES, serveOrdersMcp, TRUST_DOMAIN } from './orders-mcp.ts';

export interface DemoTopology {
  idp: DemoIdp;
  broker: DemoBroker;
  ordersMcp: McpServerHandle;
  billingMcp: McpServerHandle;
  urls: { ordersMcp: string; billingMcp: string; ordersApi: string; billingApi: string };
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
    logs?: (component: string) => Writable;
    users?: DemoUser[];
    /** Where the vault key file lives. Default: a fresh temporary directory. */
    dataDir?: string;
    /** More clients and resources for the IdP (the audit console's). */
    idp?: { clients?: Array<Record<string, unknown>>; resources?: ResourceServerConfig[] };
  },
): Promise<DemoTopology> {
  const host = config.host;
  // Every URL names the host clients reach the demo by, which is not 0.0.0.0 when binding all interfaces.
  const publicHost = config.publicHost ?? defaultPublicHost(host);
  const ordersMcpServer = await listen(host, config.ordersMcpPort, '/mcp', publicHost);
  const billingMcpServer = await listen(host, config.billingMcpPort, '/mcp', publicHost);
  const ordersApiServer = await listen(host, config.ordersApiPort, '/api', publicHost);
  const billingApiServer = await listen(host, config.billingApiPort, '/api', publicHost);
  const urls = {
    ordersMcp: ordersMcpServer.url,
    billingMcp: billingMcpServer.url,
    ordersApi: ordersApiServer.url,
    billingApi: billingApiServer.url,
  };
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
    ...(options.idp?.clients ? { clients: options.idp.clients } : {}),
  });
  // The broker's issuer carries its port, so an advertised host other than the bound one needs the
  // port before the broker binds.
  const brokerPort =
    publicHost === host || config.brokerPort !== 0 ? config.brokerPort : await freePort(host);
  const broker = await startDemoBroker({
    host,
    port: brokerPort,
    ...(publicHost === host ? {} : { issuer: `http://${bracketed(publicHost)}:${brokerPort}` }),
    idpIssuer: idp.issuer,
    urls,
    audit: options.audit,
  });
  // Exchanged downstream tokens are kept in the encrypted vault (envelope encryption, key file kept
  // owner-only in the data directory), shared by both MCP servers' caches.
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const vault = createVault({
    keyStore: await FileKeyStore.open({
      path: join(options.dataDir ?? (await mkdtemp(join(tmpdir(), 'baton-demo-'))), 'vault-keys.json'),
    }),
  });
  const tokenStore = vaultKeyValue(vault, 'downstream');
  const logger = (component: string) =>
    createLogger({
      name: component,
      ...(options.logs ? { destination: options.logs(component) as never } : { level: 'silent' }),
    });
  const ordersMcp = serveOrdersMcp({
    http: ordersMcpServer.http,
    url: urls.ordersMcp,
    idpIssuer: idp.issuer,
    broker: { issuer: broker.broker.issuer, credentials: broker.ordersMcp },
    tokenStore,
    ordersApi: urls.ordersApi,
    billingMcp: urls.billingMcp,
    audit: options.audit,
    logger: logger('orders-mcp'),
  });
  const billingMcp = serveBillingMcp({
    http: billingMcpServer.http,
    url: urls.billingMcp,
    idpIssuer: idp.issuer,
    broker: { issuer: broker.broker.issuer, credentials: broker.billingMcp },
    tokenStore,
    billingApi: urls.billingApi,
    audit: options.audit,
    logger: logger('billing-mcp'),
  });
  serveOrdersApi({
    http: ordersApiServer.http,
    url: urls.ordersApi,
    brokerIssuer: broker.broker.issuer,
    trustDomain: TRUST_DOMAIN,
    caller: {
      clientId: broker.ordersMcp.clientId,
      envelopeIssuer: urls.ordersMcp,
      envelopeJwksUri: ordersMcp.boundary.envelopeJwksUrl,
    },
    audit: options.audit,
    logger: logger('orders-api'),
  });
  serveBillingApi({
    http: billingApiServer.http,
    url: urls.billingApi,
    brokerIssuer: broker.broker.issuer,
    audit: options.audit,
    logger: logger('billing-api'),
  });
  return {
    idp,
    broker,
    ordersMcp,
    billingMcp,
    urls,
    async close() {
      await ordersMcp.close();
      await billingMcp.close();
      for (const server of [ordersMcpServer, billingMcpServer, ordersApiServer, billingApiServer])
        await closeServer(server.http);
      await broker.broker.close();
      await idp.close();
    },
  };
}
