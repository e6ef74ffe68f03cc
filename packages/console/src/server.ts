import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveNodeRequests } from '@baton/resource-server/node';
import { type ConsoleOptions, createConsole } from './console.ts';

export interface StartConsoleOptions extends ConsoleOptions {
  /** Default `127.0.0.1`: the console listens on loopback unless told otherwise. */
  host?: string;
  /** Default `0`: any free port (read it back from `url`). */
  port?: number;
  /**
   * A node:http server already listening, to serve on instead of a new one (`host` and `port` are
   * then not used). For setups that must know the console's URL before they can configure its
   * sign-in, e.g. a test that registers the redirect URI at an identity provider it starts.
   */
  server?: Server;
  /** The host name in `url`, what browsers reach the console by (when `host` is `0.0.0.0`). Default: `host`. */
  publicHost?: string;
}

export interface RunningConsole {
  /** Where it listens, e.g. `http://127.0.0.1:43121/`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the console on node:http: the quickest way to look at an `AuditReader`. Malformed requests
 * (a Host no URL can be built from, TRACE, two Authorization headers) get a 4xx before the console runs.
 */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const server = options.server ?? createServer();
  // Malformed requests (bad Host, TRACE, two Authorization headers) get a 4xx before the console runs.
  serveNodeRequests(server, createConsole(options), options.logger ? { logger: options.logger } : {});
  const host = options.server ? (server.address() as AddressInfo).address : (options.host ?? '127.0.0.1');
  if (!options.server) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const { port } = server.address() as AddressInfo;
  const shown = options.publicHost ?? host;
  const shownHost = shown.includes(':') ? `[${shown}]` : shown;
  return {
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
