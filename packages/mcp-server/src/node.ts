import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import {
  answerInternalError,
  clientCertificateOf,
  type NodeRequestListenerOptions,
  nodeRequestGuard,
} from '@baton/resource-server/node';
import { type AuthInfo, isJsonContentType } from '@modelcontextprotocol/server';
import type { IdentityBoundary } from './boundary.ts';

/** A Node request as the MCP SDKs' Node transports read it: `auth` for the identity, `body` if parsed. */
export type NodeMcpRequest = IncomingMessage & { auth?: AuthInfo; body?: unknown };

/**
 * Express-style middleware: answers the request itself, or calls `next()` once the request is admitted.
 * On plain `node:http`, pass the MCP handling as `next`.
 */
export type NodeBoundaryMiddleware = (
  request: NodeMcpRequest,
  response: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * The identity boundary in front of a Node MCP transport that reads `req.auth`: SDK v1's
 * `StreamableHTTPServerTransport` (on Express or `node:http`), or SDK v2's `NodeStreamableHTTPServerTransport`.
 * Translation only: `boundary.admit` decides (metadata, 401, 403 step-up, audit), given the client
 * certificate the TLS handshake verified (`clientCertificateOf`) for certificate-bound tokens. An admitted request
 * continues with `req.auth` set to the boundary's `AuthInfo` (the token withheld), its `Authorization`
 * header removed, and `req.body` holding the JSON body, read once: pass `req.body` to
 * `transport.handleRequest(req, res, req.body)`, since the stream is spent. A body `express.json()`
 * already parsed is used as it is.
 *
 * @example
 * app.use(express.json(), protectNodeRequests(boundary));
 * app.post('/mcp', async (req, res) => {
 *   const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
 *   await buildServer(boundary).connect(transport);
 *   await transport.handleRequest(req, res, req.body);
 * });
 */
export function protectNodeRequests(
  boundary: IdentityBoundary,
  options: Pick<NodeRequestListenerOptions, 'methods' | 'logger' | 'onerror'> = {},
): NodeBoundaryMiddleware {
  const guard = nodeRequestGuard(options);
  return (request, response, next) => {
    if (!guard(request, response)) return;
    boundary
      .admit(toWebRequest(request, boundary), {
        parsedBody: request.body,
        clientCertificate: clientCertificateOf(request.socket),
      })
      .then(async (admission) => {
        if (!admission.admitted) return send(response, admission.response);
        removeAuthorization(request);
        request.auth = admission.authInfo;
        if (admission.parsedBody !== undefined) request.body = admission.parsedBody;
        // A fresh DPoP-Nonce on success, when the boundary uses DPoP nonces (RFC 9449 §8.2).
        for (const [name, value] of Object.entries(admission.responseHeaders))
          response.setHeader(name, value);
        // The MCP handling that follows runs inside the admitted request: the boundary's tools open
        // its context only while it is in flight.
        response.once('close', admission.end);
        admission.serve(() => next());
      })
      .catch((error: unknown) => answerInternalError(response, error, options.onerror));
  };
}

/**
 * The request as `admit` reads it. Its body is the Node stream only for a JSON POST nobody parsed yet
 * (the one body `admit` reads), or a form POST to the approval pages (which `admit` answers itself;
 * one `express.urlencoded()` already parsed is encoded again); otherwise the stream is left alone for
 * the transport.
 */
function toWebRequest(request: NodeMcpRequest, boundary: IdentityBoundary): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const scheme = (request.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http';
  // Express strips a mount path from `url` (`app.use('/mcp', …)`); `originalUrl` keeps it.
  const target = (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/';
  const url = new URL(target, `${scheme}://${request.headers.host}`);
  const readsBody =
    request.method === 'POST' &&
    request.body === undefined &&
    isJsonContentType(request.headers['content-type']);
  const form = request.method === 'POST' && isFormContentType(request.headers['content-type']);
  const stream = () => Readable.toWeb(request) as ReadableStream;
  let body: string | ReadableStream | undefined;
  if (readsBody) body = stream();
  else if (form && boundary.readsFormAt(url.pathname))
    body = formAlreadyParsed(request.body) ?? (request.readableEnded ? undefined : stream());
  return new Request(url, {
    method: request.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body, duplex: 'half' } : {}),
  } as RequestInit);
}

function isFormContentType(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/** A form body `express.urlencoded()` parsed into fields, encoded again; undefined when there is none. */
function formAlreadyParsed(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const fields = Object.entries(body);
  if (fields.length === 0 || fields.some(([, value]) => typeof value !== 'string')) return undefined;
  return new URLSearchParams(fields as Array<[string, string]>).toString();
}

/** Both views Node keeps of the headers: `headers` and `rawHeaders` (which some transports convert). */
function removeAuthorization(request: IncomingMessage): void {
  delete request.headers.authorization;
  // The DPoP proof too: spent at the boundary, and no business of the MCP handling after it.
  delete request.headers.dpop;
  const raw = request.rawHeaders;
  for (let index = raw.length - 2; index >= 0; index -= 2) {
    const name = raw[index]!.toLowerCase();
    if (name === 'authorization' || name === 'dpop') raw.splice(index, 2);
  }
}

async function send(response: ServerResponse, answer: Response): Promise<void> {
  const body = Buffer.from(await answer.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [name, value] of answer.headers) headers[name] = value;
  response.writeHead(answer.status, headers);
  response.end(body);
}
