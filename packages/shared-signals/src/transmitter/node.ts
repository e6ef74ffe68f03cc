import type { IncomingMessage, ServerResponse } from 'node:http';

/** The largest request body the transmitter reads (stream configuration, poll acknowledgements). */
const MAX_BODY_BYTES = 1_048_576;

/**
 * A Node request listener for a fetch-style handler (`transmitter.handle`): translation only. The
 * request's URL keeps its path and query on a placeholder origin (the transmitter routes on the path
 * and never trusts `Host`); a body over 1 MiB is answered 413 without reaching the handler.
 *
 * @example
 * const listener = nodeListener((request) => transmitter.handle(request));
 * createServer(listener).listen(8443);
 */
export function nodeListener(
  handler: (request: Request) => Promise<Response>,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    try {
      const abort = new AbortController();
      response.once('close', () => abort.abort());
      const webRequest = await webRequestOf(request, abort.signal);
      if (webRequest === 'too_large') {
        response.writeHead(413, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ error: 'invalid_request', error_description: 'request body too large' }),
        );
        return;
      }
      const answer = await handler(webRequest);
      const out: Record<string, string> = {};
      for (const [name, value] of answer.headers) out[name] = value;
      response.writeHead(answer.status, out);
      response.end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'server_error' }));
    }
  };
}

/**
 * A Node request as a web `Request` for the transmitter (for adapters on Node frameworks such as
 * Koa): the path and query on a placeholder origin, the headers, and the body read whole, or
 * `'too_large'` beyond 1 MiB.
 */
export async function webRequestOf(
  request: IncomingMessage,
  signal?: AbortSignal,
): Promise<Request | 'too_large'> {
  const body = await readBody(request);
  if (body === 'too_large') return body;
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = request.method ?? 'GET';
  return new Request(new URL(request.url ?? '/', 'http://transmitter.invalid'), {
    method,
    headers,
    ...(signal ? { signal } : {}),
    ...(body.length && method !== 'GET' && method !== 'HEAD' ? { body: new Uint8Array(body) } : {}),
  });
}
async function readBody(request: IncomingMessage): Promise<Buffer | 'too_large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return 'too_large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
