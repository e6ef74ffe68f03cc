import type { ClientCertificate } from '@baton/resource-server';
import { clientCertificateOf } from '@baton/resource-server/node';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** The client certificate of the connection each bridged request came on (see `requestClientCertificate`). */
const certificates = new WeakMap<Request, ClientCertificate>();

/**
 * The client certificate the broker's TLS listener verified on the connection a bridged request came
 * on (`clientCertificateOf`), for an endpoint that checks a certificate-bound token (RFC 8705 §3);
 * `undefined` over plain HTTP or without one. Never from a header.
 */
export function requestClientCertificate(request: Request): ClientCertificate | undefined {
  return certificates.get(request);
}

/**
 * One of the broker's own endpoints written as a fetch handler (SCIM, the Shared Signals transmitter,
 * the identity provider's Security Event Token push, the admin API): runtime-neutral, tested with web
 * `Request`s, mounted on oidc-provider's Koa application by `fetchEndpointMiddleware`.
 */
export interface FetchEndpoint {
  /** Whether this endpoint answers a request for `path` (the path only, no query). */
  handles(path: string): boolean;
  handle(request: Request): Promise<Response>;
  /** The largest request body read, in bytes. */
  maxBodyBytes: number;
  /** The endpoint's own answer to a larger body (413 in its error format). */
  tooLarge(): Response;
}

/**
 * Mounts a fetch-style endpoint on the broker's provider (`provider.use`): a request for a path it
 * handles becomes a web `Request` on the issuer's origin (the endpoint never trusts `Host`), with the
 * body read up to `maxBodyBytes` (a larger one gets the endpoint's `tooLarge()` answer without the
 * rest being read), and the `Response` is copied back. Every other request goes on to oidc-provider.
 * Translation only: the endpoint decides.
 */
export function fetchEndpointMiddleware(endpoint: FetchEndpoint, issuer: string) {
  const origin = new URL(issuer).origin;
  return async function fetchEndpoint(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (!endpoint.handles(ctx.path)) return next();
    const body = ['GET', 'HEAD'].includes(ctx.method)
      ? undefined
      : await readBody(ctx.req, endpoint.maxBodyBytes);
    const response =
      body === 'too_large' ? endpoint.tooLarge() : await endpoint.handle(bridged(ctx, origin, body));
    const payload = Buffer.from(await response.arrayBuffer());
    // Written as the endpoint answered: Koa would turn an empty 202 or 503 into a 204. The status is
    // still set on the context, for the broker's metrics and telemetry.
    ctx.status = response.status;
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    ctx.respond = false;
    ctx.res.writeHead(response.status, headers);
    ctx.res.end(response.status === 204 || response.status === 304 ? undefined : payload);
  };
}

function bridged(
  ctx: KoaContextWithOIDC,
  origin: string,
  body: Uint8Array<ArrayBuffer> | undefined,
): Request {
  const request = new Request(new URL(ctx.originalUrl, origin), {
    method: ctx.method,
    headers: headersOf(ctx.headers),
    signal: closedSignal(ctx),
    ...(body?.byteLength ? { body } : {}),
  });
  const certificate = clientCertificateOf(ctx.req.socket);
  if (certificate) certificates.set(request, certificate);
  return request;
}

function headersOf(incoming: KoaContextWithOIDC['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (typeof value === 'string') headers.append(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

/** Aborted when the client goes away, so a long poll waiting for events stops waiting. */
function closedSignal(ctx: KoaContextWithOIDC): AbortSignal {
  const abort = new AbortController();
  ctx.res.once('close', () => abort.abort());
  return abort.signal;
}

async function readBody(
  request: NodeJS.ReadableStream,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buffer.byteLength;
    if (size > maxBytes) return 'too_large';
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
