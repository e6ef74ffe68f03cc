import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RefusalLogger, serveNodeRequests } from '@baton/resource-server/node';
import { type ConsoleOptions, createConsole } from './console.ts';

export interface StartConsoleOptions extends ConsoleOptions {
  /** Default `127.0.0.1`: the console has no login, so it listens on loopback unless told otherwise. */
  host?: string;
  /** Default `0`: any free port (read it back from `url`). */
  port?: number;
  /** The host name in `url`, what browsers reach the console by (when `host` is `0.0.0.0`). Default: `host`. */
  publicHost?: string;
  /** Told of malformed requests refused before the console sees them (status and reason). Default: none. */
  logger?: RefusalLogger;
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
  const server = serveNodeRequests(createServer(), createConsole(options), { logger: options.logger });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
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
