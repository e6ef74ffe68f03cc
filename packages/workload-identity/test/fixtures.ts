import { once } from 'node:events';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { clientTlsOptions, serverTlsOptions, type TlsIdentity } from '../src/index.ts';

/** A real HTTPS server on 127.0.0.1, port 0, answering with who the handshake said the client is. */
export async function startHttpsServer(
  identity: TlsIdentity,
  ca: string,
  requireClientCertificate: boolean,
): Promise<{
  server: Server;
  origin: string;
  /** Handshakes that failed, as the server saw them. */
  clientErrors: Array<{ code?: string }>;
  /** Requests that reached the handler. */
  readonly served: number;
  close(): Promise<void>;
}> {
  const clientErrors: Array<{ code?: string }> = [];
  const server = createServer(serverTlsOptions({ identity, ca, requireClientCertificate }), (req, res) => {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ?? null,
        resumed: socket.isSessionReused(),
        raw: peer?.raw ? Buffer.from(peer.raw).toString('base64') : null,
      }),
    );
  });
  server.on('tlsClientError', (error: { code?: string }) => clientErrors.push(error));
  let served = 0;
  server.on('request', () => {
    served += 1;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    origin: `https://127.0.0.1:${port}`,
    clientErrors,
    get served() {
      return served;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface SeenByServer {
  authorized: boolean;
  /** Why the handshake did not authorize the client's certificate (OpenSSL's verify code). */
  authorizationError: string | null;
  resumed: boolean;
  raw: string | null;
}

/** One GET with `https.request` and the given TLS client options; a new connection, no keep-alive. */
export function httpsGet(
  url: string,
  init: { identity?: TlsIdentity; ca: string; servername?: string; serverSpiffeId?: string },
): Promise<SeenByServer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ...clientTlsOptions(init),
        agent: false,
        ...(init.servername ? { servername: init.servername } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(JSON.parse(body) as SeenByServer));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
