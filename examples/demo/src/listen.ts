import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Binds a server before anything is configured: resource URIs must be known before the identity
 * provider and the broker can issue tokens for them. Handlers are attached afterwards.
 */
export async function listen(host: string, port: number, path = ''): Promise<{ http: Server; url: string }> {
  const http = createServer();
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  return { http, url: `http://${host}:${(http.address() as AddressInfo).port}${path}` };
}

export async function closeServer(http: Server): Promise<void> {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}
