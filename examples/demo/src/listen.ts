import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { drainServer } from '@baton/resource-server/operations';
import { bracketed } from './config.ts';

/**
 * Binds a server before anything is configured: resource URIs must be known before the identity
 * provider and the broker can issue tokens for them. Handlers are attached afterwards. `url` names
 * `publicHost`, the host clients reach the demo by, which differs from `host` when binding 0.0.0.0.
 * With `tls` (a hop's workload certificate, client certificates required), it serves HTTPS.
 */
export async function listen(
  host: string,
  port: number,
  path = '',
  publicHost = host,
  tls?: TlsOptions,
): Promise<{ http: Server; url: string }> {
  // An HTTPS server is an HTTP server on TLS sockets: every handler and drain works on it as on HTTP.
  const http = tls ? (createHttpsServer(tls) as unknown as Server) : createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const scheme = tls ? 'https' : 'http';
  return { http, url: `${scheme}://${bracketed(publicHost)}:${(http.address() as AddressInfo).port}${path}` };
}

/** A port free on `host` right now, for a server that must know its port before it binds. */
export async function freePort(host: string): Promise<number> {
  const { http } = await listen(host, 0);
  const { port } = http.address() as AddressInfo;
  await closeServer(http);
  return port;
}

/** Stops accepting and lets requests in flight finish (an MCP stream left open is cut after 5 s). */
export async function closeServer(http: Server): Promise<void> {
  await drainServer(http, { deadlineMs: 5000 });
}
