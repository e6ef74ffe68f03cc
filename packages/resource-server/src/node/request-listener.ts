import { type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { toNodeHandler } from '@modelcontextprotocol/node';
import type { ClientCertificate } from '../client-certificate.ts';
import { type MalformedRequest, malformedRequest, malformedRequestAnswer } from '../malformed-request.ts';
import { clientCertificateOf } from './client-certificate.ts';
import { malformedNodeRequest, servedMethods } from './malformed-node-request.ts';

/** What the Node adapter hands a handler besides the request. */
export interface FetchHandlerOptions {
  /** A body Express already parsed (`req.body`), as the SDK's adapter passes it on. */
  parsedBody?: unknown;
  /**
   * The client certificate the connection's TLS handshake verified (`clientCertificateOf`); absent on
   * plain HTTP and when the client presented none the server's CAs verify.
   */
  clientCertificate?: ClientCertificate;
}

/** Any web-standard handler: `boundary.protect(mcp)`, `createConsole(…)`, `{ fetch: withDownstreamIdentity(…) }`. */
export interface FetchHandler {
  fetch(request: Request, options?: FetchHandlerOptions): Promise<Response>;
}

/** Where refusals are logged: a pino logger fits. Only the status and the private reason are passed. */
export interface RefusalLogger {
  warn(fields: { status: number; reason: string }, message: string): void;
}

export interface NodeRequestListenerOptions {
  /** Methods the handler serves; any other is answered 405 with `Allow`. Default: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. */
  methods?: readonly string[];
  /** Passed to the SDK adapter: a larger body is answered 413. Default 4 MiB. */
  maxRequestBodySize?: number;
  /** Told of every malformed request refused here (status and reason only). Default: none. */
  logger?: RefusalLogger;
  /** Told when the handler itself fails (the adapter then answers 500). */
  onerror?: (error: Error) => void;
}

/** A Node request listener; also usable as an Express handler (a third `next` argument is ignored). */
export type NodeRequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Serves a web-standard handler on `node:http`, refusing with a 4xx and an RFC 6749 §5.2-shaped JSON
 * body what the MCP SDK's `toNodeHandler` would otherwise turn into a 500 or misread: a missing,
 * duplicated or malformed `Host`, a method a web `Request` cannot carry or that is not served, a
 * request target that is not an absolute path, and two `Authorization` headers (of which Node keeps
 * only the first: `400 invalid_request` with a Bearer challenge). Every other request goes to the
 * SDK's `toNodeHandler` unchanged. The listener never throws and never rejects.
 *
 * Checks cost one scan of `rawHeaders` and one pass over `Host`. On HTTPS, the client certificate the
 * handshake verified is handed to `handler.fetch(request, { clientCertificate })` (`clientCertificateOf`).
 *
 * @example
 * serveNodeRequests(http.createServer(), boundary.protect(mcp), { logger }).listen(443);
 */
export function nodeRequestListener(
  handler: FetchHandler,
  options: NodeRequestListenerOptions = {},
): NodeRequestListener {
  const guard = nodeRequestGuard(options);
  const { onerror } = options;
  const adapterOptions = {
    ...(options.maxRequestBodySize !== undefined ? { maxRequestBodySize: options.maxRequestBodySize } : {}),
    ...(onerror ? { onerror } : {}),
  };
  const delegate = toNodeHandler(handler, adapterOptions);
  // A request on a connection with a verified client certificate: the SDK adapter passes its own
  // options (`parsedBody`) to `fetch`; the certificate goes with them.
  const delegateWith = (clientCertificate: ClientCertificate) =>
    toNodeHandler(
      {
        fetch: (request, sdkOptions) =>
          handler.fetch(request, { ...sdkOptions, clientCertificate } as FetchHandlerOptions),
      },
      adapterOptions,
    );
  return (request, response) => {
    if (!guard(request, response)) return;
    // A body Express (`express.json()`, as `createMcpExpressApp()` installs) already parsed: the stream is
    // spent, so the parsed body is passed on instead of being read again.
    const parsedBody = (request as { body?: unknown }).body;
    let clientCertificate: ClientCertificate | undefined;
    try {
      clientCertificate = clientCertificateOf(request.socket);
    } catch (error) {
      return answerInternalError(response, error, onerror);
    }
    (clientCertificate ? delegateWith(clientCertificate) : delegate)(request, response, parsedBody).catch(
      (error: unknown) => answerInternalError(response, error, onerror),
    );
  };
}

/**
 * The checks of `nodeRequestListener` on their own, for frameworks with their own request handling
 * (Express): returns whether the request may proceed; when it returns `false` it has already answered
 * (4xx, or 500 if answering failed) and the caller must not handle the request further. Never throws.
 *
 * @example
 * const guard = nodeRequestGuard({ logger });
 * app.use((req, res, next) => guard(req, res) && next());
 */
export function nodeRequestGuard(
  options: Pick<NodeRequestListenerOptions, 'methods' | 'logger' | 'onerror'> = {},
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const methods = servedMethods(options.methods);
  const allowed = [...methods];
  const { logger, onerror } = options;
  return (request, response) => {
    try {
      const refusal = malformedNodeRequest(request, methods);
      if (!refusal) return true;
      logRefusal(logger, refusal);
      const answer = malformedRequestAnswer(refusal, allowed);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    } catch (error) {
      answerInternalError(response, error, onerror);
    }
    return false;
  };
}

/**
 * Attaches `nodeRequestListener(handler, options)` to `server`, and answers `CONNECT` with the same
 * 405 (`refuseConnect`). Returns `server`.
 */
export function serveNodeRequests<S extends Server>(
  server: S,
  handler: FetchHandler,
  options: NodeRequestListenerOptions = {},
): S {
  server.on('request', nodeRequestListener(handler, options));
  return refuseConnect(server, options);
}

/**
 * Answers `CONNECT` with 405, which Node hands to a separate `connect` event and otherwise drops
 * without a word. For servers whose requests something else handles (`http.createServer(expressApp)`).
 * Returns `server`.
 */
export function refuseConnect<S extends Server>(
  server: S,
  options: Pick<NodeRequestListenerOptions, 'methods' | 'logger'> = {},
): S {
  const refusal = malformedRequest('method_not_allowed');
  const answer = malformedRequestAnswer(refusal, [...servedMethods(options.methods)]);
  const head = [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}`,
    ...Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${Buffer.byteLength(answer.body)}`,
    'connection: close',
  ];
  const written = `${head.join('\r\n')}\r\n\r\n${answer.body}`;
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    logRefusal(options.logger, refusal);
    socket.on('error', () => {});
    socket.end(written);
  });
  return server;
}

function logRefusal(logger: RefusalLogger | undefined, refusal: MalformedRequest): void {
  try {
    logger?.warn({ status: refusal.status, reason: refusal.reason }, 'malformed request refused');
  } catch {
    // A failing logger must not turn a 4xx into a crash.
  }
}

/** A failure of the handler or of writing its answer: the server's fault, so a 500 if nothing was sent. */
/**
 * Answers a request whose handler failed: 500 with an RFC 6749-shaped body that says nothing of the
 * cause, or, once the response has started, destroys it. Reports to `onerror` first; never throws.
 */
export function answerInternalError(
  response: ServerResponse,
  error: unknown,
  onerror: ((error: Error) => void) | undefined,
): void {
  try {
    onerror?.(error instanceof Error ? error : new Error(String(error)));
  } catch {
    // Reporting is best effort.
  }
  try {
    if (!response.headersSent) {
      response.writeHead(500, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
    } else {
      response.destroy();
    }
  } catch {
    response.destroy();
  }
}
