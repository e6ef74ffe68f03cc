import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from 'node:http';
import { clientCertificateOf } from '@baton/resource-server/node';
import type { VerifierCall } from '../verified-call.ts';

/** The `ServerResponse` methods that send something; the first call of any of them starts the answer. */
const SENDING = ['writeHead', 'write', 'end', 'flushHeaders'] as const;
type Sending = (typeof SENDING)[number];
/** The methods that change headers: refused once the answer has started, as Node does once headers are sent. */
const HEADER_CHANGES = ['setHeader', 'setHeaders', 'appendHeader', 'removeHeader'] as const;
type HeaderChange = (typeof HEADER_CHANGES)[number];

/**
 * A Node answer held back until the core has written the audit record. The status and headers are
 * fixed when the handler starts to answer (`started`), exactly as if they had been sent: from then on
 * `headersSent` is true and changing a header throws `ERR_HTTP_HEADERS_SENT`, so middleware that runs
 * after the handler began answering (an error handler, a second `send`) sees an answer already under
 * way, as it would without the hold. What the handler writes is queued until the verdict, then
 * released as it was (later writes pass straight through, with Node's backpressure) or replaced.
 * Anything sent after a queued `end` is dropped. Internal to the Node and Express adapters.
 */
export interface HeldAnswer {
  /** Resolves with the status once the handler starts to answer. */
  readonly started: Promise<number>;
  /** Whether the handler has started to answer. */
  readonly hasStarted: boolean;
  /** Sends what the handler sent, and lets the rest through. */
  release(): void;
  /**
   * Drops what the handler sent (its headers too) and sends `response` instead; when nothing can be
   * replaced any more (the answer already went out), ends the connection. Never rejects.
   */
  replace(response: Response): Promise<void>;
}

export function holdAnswer(response: ServerResponse): HeldAnswer {
  const self = response as unknown as Record<Sending | HeaderChange, (...args: unknown[]) => unknown>;
  const original = new Map<Sending | HeaderChange, (...args: unknown[]) => unknown>();
  // What the instance itself had (another middleware's wrapper, e.g. compression's `end`), put back on release.
  const own = new Map<string, PropertyDescriptor | undefined>();
  for (const method of [...SENDING, ...HEADER_CHANGES]) {
    if (typeof self[method] !== 'function') continue;
    original.set(method, self[method].bind(response));
    own.set(method, Object.getOwnPropertyDescriptor(response, method));
  }
  const call = (method: Sending | HeaderChange, ...args: unknown[]) => original.get(method)!(...args);
  const queued: Array<{ method: 'write' | 'end'; args: unknown[] }> = [];
  // Headers set before the handler ran (CORS, by earlier middleware) survive a replaced answer.
  const before = response.getHeaders();
  let state: 'holding' | 'released' | 'replaced' = 'holding';
  let hasStarted = false;
  let ended = false;
  let head: { status: number; message: string | undefined } = { status: 200, message: undefined };
  let start: (status: number) => void = () => {};
  const started = new Promise<number>((resolve) => {
    start = resolve;
  });

  /** The status and headers become final, as Node makes them when it sends the head. */
  const begin = (method: Sending, args: unknown[]) => {
    if (method === 'writeHead') {
      const [status, second, third] = args;
      if (typeof status === 'number') response.statusCode = status;
      if (typeof second === 'string') response.statusMessage = second;
      const headers = typeof second === 'string' ? third : second;
      if (Array.isArray(headers)) {
        // As Node does: the named headers are replaced, repeated names append (two set-cookie stay two).
        if (headers.length % 2 !== 0) throw invalidArgument('writeHead headers must be name/value pairs');
        for (let i = 0; i < headers.length; i += 2) call('removeHeader', headers[i]);
        for (let i = 0; i < headers.length; i += 2) call('appendHeader', headers[i], headers[i + 1]);
      } else if (headers && typeof headers === 'object') {
        for (const [name, value] of Object.entries(headers)) {
          if (value !== undefined) call('setHeader', name, value);
        }
      }
    }
    // The status is checked and fixed now, as Node would when it sent the head: a bad one throws in
    // the handler, not later at release, and a change after this point does not reach the client.
    const status = response.statusCode;
    if (!Number.isInteger(status) || status < 100 || status > 999) {
      throw Object.assign(new RangeError(`Invalid status code: ${String(status)}`), {
        code: 'ERR_HTTP_INVALID_STATUS_CODE',
      });
    }
    head = { status, message: response.statusMessage || undefined };
    hasStarted = true;
    Object.defineProperty(response, 'headersSent', { configurable: true, get: () => true });
    start(status);
  };
  const invalidArgument = (message: string) =>
    Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
  const headersAlreadySent = (name: string) => {
    const error = new Error(`Cannot ${name} after the response has started`) as Error & { code: string };
    error.code = 'ERR_HTTP_HEADERS_SENT';
    return error;
  };

  const wrappers = new Map<string, unknown>();
  for (const method of HEADER_CHANGES) {
    if (!original.has(method)) continue;
    self[method] = (...args: unknown[]) => {
      if (state === 'holding' && hasStarted) throw headersAlreadySent(method);
      return call(method, ...args);
    };
    wrappers.set(method, self[method]);
  }
  for (const method of SENDING) {
    self[method] = (...args: unknown[]) => {
      if (state === 'released') return call(method, ...args);
      if (state === 'holding' && !ended) {
        if (!hasStarted) begin(method, args);
        else if (method === 'writeHead') throw headersAlreadySent(method);
        if (method === 'write' || method === 'end') queued.push({ method, args });
        if (method === 'end') ended = true;
      } else if (method === 'write' || method === 'end') {
        // Dropped (after a queued `end`, or once the answer was replaced): its callback still hears of it.
        fail([{ args }], state === 'replaced' ? 'ERR_STREAM_DESTROYED' : 'ERR_STREAM_WRITE_AFTER_END');
      }
      // A callback given to `write`/`end` is called when the data is really written (on release).
      if (method === 'write') return true;
      return method === 'flushHeaders' ? undefined : response;
    };
    wrappers.set(method, self[method]);
  }

  /**
   * Back to the response as it was before the hold: the instance's own methods as they were, where
   * ours is still the outermost. A wrapper a later middleware put over ours stays: ours then passes
   * everything through.
   */
  const restore = () => {
    delete (response as unknown as Record<string, unknown>).headersSent;
    for (const [method, descriptor] of own) {
      if (Object.getOwnPropertyDescriptor(response, method)?.value !== wrappers.get(method)) continue;
      if (descriptor === undefined) delete (response as unknown as Record<string, unknown>)[method];
      else Object.defineProperty(response, method, descriptor);
    }
  };
  /** Tells the callbacks of writes that will never happen, on the next tick, as a stream would. */
  const fail = (writes: ReadonlyArray<{ args: unknown[] }>, code: string) => {
    for (const { args } of writes) {
      const callback = args.at(-1);
      if (typeof callback !== 'function') continue;
      const error = Object.assign(new Error('the held answer was not sent'), { code });
      process.nextTick(() => callback(error));
    }
  };

  return {
    started,
    get hasStarted() {
      return hasStarted;
    },
    release() {
      if (state !== 'holding') return;
      state = 'released';
      restore();
      const writes = queued.splice(0);
      if (response.destroyed) return fail(writes, 'ERR_STREAM_DESTROYED');
      try {
        // The head through the response's current chain (a header hook above ours sees it), with the
        // status fixed when the answer started; the writes below ours, where they were queued.
        if (hasStarted) response.writeHead(head.status, ...(head.message ? [head.message] : []));
        for (const { method, args } of writes) call(method, ...args);
      } catch {
        response.destroy();
      }
    },
    async replace(answer) {
      const replaceable = state === 'holding';
      state = 'replaced';
      fail(queued.splice(0), 'ERR_STREAM_DESTROYED');
      // The wrappers stay: whatever the handler still sends is dropped (its callbacks told), so it
      // can neither reach the client nor write after the replacement's end.
      delete (response as unknown as Record<string, unknown>).headersSent;
      let body: string;
      try {
        body = await answer.text();
      } catch {
        return void response.destroy();
      }
      if (!replaceable || response.headersSent) return void response.destroy();
      try {
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

/**
 * The `VerifierCall` of a Node request (already checked by `nodeRequestGuard`), with the client
 * certificate its TLS connection verified, if any (`clientCertificateOf`).
 */
export function callOfNodeRequest(request: IncomingMessage): VerifierCall {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  // Express strips a mount path from `url` (`app.use('/api', …)`); `originalUrl` keeps it.
  const target = (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/';
  const query = target.indexOf('?');
  const clientCertificate = clientCertificateOf(request.socket);
  return {
    method: request.method ?? 'GET',
    path: query === -1 ? target : target.slice(0, query),
    headers,
    ...(clientCertificate ? { clientCertificate } : {}),
  };
}
