import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveNodeRequests } from '@baton/resource-server/node';
import { drainServer, type Registry } from '@baton/resource-server/operations';
import { type ConsoleOptions, createConsole } from './console.ts';
import { type ConsoleOperationsOptions, withConsoleOperations } from './operations.ts';

export interface StartConsoleOptions extends ConsoleOptions, ConsoleOperationsOptions {
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
  /** How long `close()` lets requests in flight finish before cutting them. Default 10 000 ms. */
  shutdownDeadlineMs?: number;
}

export interface RunningConsole {
  /** Where it listens, e.g. `http://127.0.0.1:43121/`. */
  url: string;
  /** Its Prometheus registry (what `/metrics` serves); undefined with `metrics: false`. */
  metrics: Registry | undefined;
  /** Stops accepting and lets requests in flight finish (up to `shutdownDeadlineMs`, default 10 s). */
  close(): Promise<void>;
}

/**
 * Serves the console on node:http: the quickest way to look at an `AuditReader`. Malformed requests
 * (a Host no URL can be built from, TRACE, two Authorization headers) get a 4xx before the console runs.
 */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const server = options.server ?? createServer();
  // Malformed requests (bad Host, TRACE, two Authorization headers) get a 4xx before the console runs.
  const { app, registry } = withConsoleOperations(createConsole(options), options);
  serveNodeRequests(server, app, options.logger ? { logger: options.logger } : {});
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
    metrics: registry,
    close: async () => {
      await drainServer(server, { deadlineMs: options.shutdownDeadlineMs });
    },
  };
}
