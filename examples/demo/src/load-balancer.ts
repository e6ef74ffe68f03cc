import { Agent, type IncomingHttpHeaders, type IncomingMessage, request, type Server } from 'node:http';
import { closeServer, listen } from './listen.ts';

/** A round-robin load balancer in front of several instances of one component. */
export interface LoadBalancer {
  /** The public URL clients use (the instances' own URLs are never advertised). */
  url: string;
  http: Server;
  /** Where requests go, in turn. Set once the instances listen. */
  upstreams: string[];
  /** Requests forwarded to each upstream, in the order of `upstreams`. */
  counts: number[];
  /** Stops accepting; requests in flight (an MCP stream too, up to the drain deadline) finish first. */
  close(): Promise<void>;
}

/** Connection-level headers (RFC 9110 §7.6.1): they describe one hop and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers a `Connection` header may not drop: naming them there is an attack on the instance (a request
 * without Host is served under another resource or issuer; one without a length or credentials is not
 * the request the client sent), never a hop-by-hop instruction.
 */
const END_TO_END = new Set(['host', 'content-length', 'authorization']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter((name) => !END_TO_END.has(name)),
  );
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name)),
  );
}

/**
 * What the instance is told about the client: only what this balancer saw. A client's own `Forwarded`
 * and `X-Forwarded-*` are dropped (it could claim any address or scheme), and the balancer's are set.
 */
function upstreamHeaders(incoming: IncomingMessage, protocol: string): IncomingHttpHeaders {
  const headers = Object.fromEntries(
    Object.entries(forwardable(incoming.headers)).filter(
      ([name]) => name !== 'forwarded' && !name.startsWith('x-forwarded-'),
    ),
  );
  const client = incoming.socket.remoteAddress;
  if (client !== undefined) headers['x-forwarded-for'] = client;
  headers['x-forwarded-proto'] = protocol;
  if (incoming.headers.host !== undefined) headers['x-forwarded-host'] = incoming.headers.host;
  return headers;
}

/**
 * The demo's stand-in for a real load balancer (what a cloud LB, nginx or Envoy does in production):
 * each request goes to the next upstream in turn. The `Host` header is passed on as the client sent it,
 * so every instance sees the public URL (the resource and issuer it serves); a client's `Connection`
 * cannot strip it (nor the length or `Authorization`), and the instance gets `X-Forwarded-For`,
 * `-Proto` and `-Host` from the balancer, never the client's own (`Forwarded` too is dropped). Bodies stream both ways
 * unbuffered (MCP answers with Server-Sent Events). It logs nothing, so no `Authorization` header or
 * token can reach a log; an upstream that cannot be reached is a bare 502.
 */
export async function startLoadBalancer(options: {
  host: string;
  port: number;
  publicHost: string;
  path?: string;
}): Promise<LoadBalancer> {
  const bound = await listen(options.host, options.port, options.path ?? '', options.publicHost);
  const agent = new Agent({ keepAlive: true });
  let next = 0;
  const protocol = new URL(bound.url).protocol.slice(0, -1);
  const balancer: LoadBalancer = {
    url: bound.url,
    http: bound.http,
    upstreams: [],
    counts: [],
    async close() {
      await closeServer(bound.http);
      agent.destroy();
    },
  };
  bound.http.on('request', (incoming, outgoing) => {
    if (balancer.upstreams.length === 0) {
      outgoing.writeHead(503).end();
      return;
    }
    const index = next++ % balancer.upstreams.length;
    balancer.counts[index] = (balancer.counts[index] ?? 0) + 1;
    const upstream = new URL(balancer.upstreams[index]!);
    const proxied = request(
      {
        agent,
        hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: upstreamHeaders(incoming, protocol),
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardable(answer.headers));
        // Each chunk is written as it arrives: an SSE event reaches the client when the instance sends it.
        answer.pipe(outgoing);
        answer.on('error', () => outgoing.destroy());
      },
    );
    proxied.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502).end();
      else outgoing.destroy();
    });
    // A client that goes away (an abandoned stream) releases the upstream request too.
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) proxied.destroy();
    });
    incoming.pipe(proxied);
  });
  return balancer;
}
