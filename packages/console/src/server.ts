import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { type ConsoleOptions, createConsole } from './console.ts';

export interface StartConsoleOptions extends ConsoleOptions {
  /** Default `127.0.0.1`: the console has no login, so it listens on loopback unless told otherwise. */
  host?: string;
  /** Default `0`: any free port (read it back from `url`). */
  port?: number;
}

export interface RunningConsole {
  /** Where it listens, e.g. `http://127.0.0.1:43121/`. */
  url: string;
  close(): Promise<void>;
}

/** Serves the console on node:http: the quickest way to look at an `AuditReader`. */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const handler = toNodeHandler(createConsole(options));
  const server = createServer((request, response) => {
    void handler(request, response);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
