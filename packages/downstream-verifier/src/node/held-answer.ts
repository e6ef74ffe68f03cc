import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';
import type { VerifierCall } from '../verified-call.ts';

/** The `ServerResponse` methods that send something; the first call of any of them starts the answer. */
const SENDING = ['writeHead', 'write', 'end', 'flushHeaders'] as const;
type Sending = (typeof SENDING)[number];

/**
 * A Node answer held back until the core has written the audit record: what the handler sends is
 * queued, from the first byte (status and headers included), and then either released as it was or
 * replaced. The status is known once the handler starts answering (`started`), as with a web
 * `Response`; nothing reaches the client before the verdict. A discarded answer's later writes are
 * dropped. Internal to the Node and Express adapters.
 */
export interface HeldAnswer {
  /** Resolves with the status once the handler starts to answer. */
  readonly started: Promise<number>;
  /** Sends what the handler sent, and lets the rest through. */
  release(): void;
  /** Drops what the handler sent (its headers too) and sends `response` instead. Never rejects. */
  replace(response: Response): Promise<void>;
}

export function holdAnswer(response: ServerResponse): HeldAnswer {
  const original = new Map<Sending, (...args: unknown[]) => unknown>();
  const queued: Array<{ method: Sending; args: unknown[] }> = [];
  // Headers set before the handler ran (CORS, by earlier middleware) survive a replaced answer.
  const before = response.getHeaders();
  let state: 'holding' | 'released' | 'replaced' = 'holding';
  let start: (status: number) => void = () => {};
  const started = new Promise<number>((resolve) => {
    start = resolve;
  });
  const self = response as unknown as Record<Sending, (...args: unknown[]) => unknown>;
  for (const method of SENDING) {
    const send = self[method].bind(response);
    original.set(method, send);
    self[method] = (...args: unknown[]) => {
      if (state === 'released') return send(...args);
      if (state === 'holding') {
        queued.push({ method, args });
        start(method === 'writeHead' && typeof args[0] === 'number' ? args[0] : response.statusCode);
      }
      if (method === 'write') return true;
      return method === 'flushHeaders' ? undefined : response;
    };
  }
  const call = (method: Sending, ...args: unknown[]) => original.get(method)!(...args);
  return {
    started,
    release() {
      state = 'released';
      for (const { method, args } of queued.splice(0)) call(method, ...args);
    },
    async replace(answer) {
      state = 'replaced';
      queued.length = 0;
      try {
        const body = await answer.text();
        if (response.headersSent) return void response.destroy();
        for (const name of response.getHeaderNames()) response.removeHeader(name);
        for (const [name, value] of Object.entries(before)) {
          if (value !== undefined) response.setHeader(name, value);
        }
        const headers: OutgoingHttpHeaders = {};
        answer.headers.forEach((value, name) => {
          headers[name] = value;
        });
        call('writeHead', answer.status, STATUS_CODES[answer.status] ?? 'unknown', headers);
        call('end', body);
      } catch {
        response.destroy();
      }
    },
  };
}

/** The `VerifierCall` of a Node request (already checked by `nodeRequestGuard`). */
export function callOfNodeRequest(request: IncomingMessage): VerifierCall {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  // Express strips a mount path from `url` (`app.use('/api', …)`); `originalUrl` keeps it.
  const target = (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/';
  const query = target.indexOf('?');
  return { method: request.method ?? 'GET', path: query === -1 ? target : target.slice(0, query), headers };
}
