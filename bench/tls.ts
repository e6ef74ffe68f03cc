import { once } from 'node:events';
import {
  createServer as createHttpServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { createServer as createHttpsServer, Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { clientCertificateOf } from '@baton/resource-server/node';
import {
  clientTlsOptions,
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  serverTlsOptions,
} from '@baton/workload-identity';
import { fmt, summarize } from './stats.ts';

/**
 * What mutual TLS costs per request between two hops (issue #14), on 127.0.0.1, one request at a time:
 * plain HTTP, then HTTPS with a required client certificate (ECDSA P-256 from the internal CA) with a
 * full handshake per request (no keep-alive, no resumption), with TLS 1.3 session resumption (a new
 * connection per request resuming the last session's ticket), and over one kept-alive connection.
 * Client and server share this process, so a request's time is both sides' work. The server reads the
 * client certificate per request (`clientCertificateOf`), as Baton's adapters do. Medians of 5 rotating rounds.
 */
export async function benchTls(requests = 1_500): Promise<Array<Record<string, string>>> {
  const ca = await createCertificateAuthority({ trustDomain: 'bench.test' });
  const serverIdentity = await issueWorkloadCertificate(ca, {
    spiffeId: 'spiffe://bench.test/api',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const client = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://bench.test/mcp', usage: 'client' });
  const connections = { full: 0, resumed: 0, certificates: 0 };
  const answer = (request: IncomingMessage, response: import('node:http').ServerResponse) => {
    if (clientCertificateOf(request.socket)) connections.certificates += 1;
    response.setHeader('content-type', 'application/json');
    response.end('{"ok":true}');
  };
  const plain = createHttpServer(answer);
  const mtls = createHttpsServer(
    serverTlsOptions({ identity: serverIdentity, ca: ca.certificatePem, requireClientCertificate: true }),
    answer,
  );
  mtls.on('secureConnection', (socket: TLSSocket) => {
    if (socket.isSessionReused()) connections.resumed += 1;
    else connections.full += 1;
  });
  const plainUrl = `http://127.0.0.1:${await listen(plain)}/`;
  const mtlsUrl = `https://127.0.0.1:${await listen(mtls)}/`;
  const tls = clientTlsOptions({ identity: client, ca: ca.certificatePem });

  const modes: Array<{
    name: string;
    url: string;
    get: () => Promise<void>;
    close: () => Promise<void> | void;
  }> = [];
  const plainNew = new HttpAgent({ keepAlive: false });
  const plainKept = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const full = new HttpsAgent({ ...tls, keepAlive: false, maxCachedSessions: 0 });
  const resuming = new HttpsAgent({ ...tls, keepAlive: false });
  const kept = new HttpsAgent({ ...tls, keepAlive: true, maxSockets: 1 });
  const dispatcher = mutualTlsDispatcher({ identity: client, ca: ca.certificatePem });
  modes.push(
    {
      name: 'HTTP, new connection per request',
      url: plainUrl,
      get: () => get(httpRequest, plainUrl, plainNew),
      close: () => plainNew.destroy(),
    },
    {
      name: 'HTTP, keep-alive',
      url: plainUrl,
      get: () => get(httpRequest, plainUrl, plainKept),
      close: () => plainKept.destroy(),
    },
    {
      name: 'mTLS, full handshake per request',
      url: mtlsUrl,
      get: () => get(httpsRequest, mtlsUrl, full),
      close: () => full.destroy(),
    },
    {
      name: 'mTLS, session resumption per request',
      url: mtlsUrl,
      get: () => get(httpsRequest, mtlsUrl, resuming),
      close: () => resuming.destroy(),
    },
    {
      name: 'mTLS, keep-alive',
      url: mtlsUrl,
      get: () => get(httpsRequest, mtlsUrl, kept),
      close: () => kept.destroy(),
    },
    {
      name: 'mTLS, keep-alive, fetch + mutualTlsDispatcher',
      url: mtlsUrl,
      get: async () => {
        const response = await fetch(mtlsUrl, { dispatcher } as RequestInit);
        await response.arrayBuffer();
      },
      close: () => dispatcher.close(),
    },
  );

  // Rounds rotate through the modes, so a burst of load elsewhere on the machine hits them all alike;
  // each row is the median round.
  const rounds = 5;
  const perRound = Math.ceil(requests / rounds);
  const results = modes.map(() => ({
    perRequest: [] as number[],
    samples: [] as number[],
    full: 0,
    resumed: 0,
    certificates: 0,
  }));
  try {
    for (const mode of modes) for (let i = 0; i < 50; i += 1) await mode.get();
    for (let round = 0; round < rounds; round += 1) {
      for (const [index, mode] of modes.entries()) {
        const result = results[index]!;
        const before = { ...connections };
        const started = performance.now();
        for (let i = 0; i < perRound; i += 1) {
          const at = performance.now();
          await mode.get();
          result.samples.push(performance.now() - at);
        }
        result.perRequest.push((performance.now() - started) / perRound);
        result.full += connections.full - before.full;
        result.resumed += connections.resumed - before.resumed;
        result.certificates += connections.certificates - before.certificates;
      }
    }
  } finally {
    for (const mode of modes) await mode.close();
    for (const server of [plain, mtls] as Server[]) {
      server.closeAllConnections();
      server.close();
    }
  }
  return modes.map((mode, index) => {
    const result = results[index]!;
    const perRequest = summarize(result.perRequest).p50;
    const { p50, p99 } = summarize(result.samples);
    const tlsMode = mode.url === mtlsUrl;
    return {
      mode: mode.name,
      'ms / request': fmt(perRequest, 3),
      'p50 ms': fmt(p50, 3),
      'p99 ms': fmt(p99, 3),
      'requests / s': fmt(1000 / perRequest),
      'full handshakes': tlsMode ? fmt(result.full) : '–',
      'resumed handshakes': tlsMode ? fmt(result.resumed) : '–',
      'client certificates read': tlsMode ? fmt(result.certificates) : '–',
    };
  });
}

async function listen(server: Server | import('node:https').Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function get(
  send: typeof httpRequest | typeof httpsRequest,
  url: string,
  agent: HttpAgent | HttpsAgent,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = (send as typeof httpsRequest)(url, { agent: agent as HttpsAgent }, (response) => {
      response.resume();
      response.on('end', resolve);
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
