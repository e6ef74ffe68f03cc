import { type DpopKey, dpopProof } from './dpop-proof.ts';

/** RFC 9449 §8.1: a nonce is 1*NQCHAR; anything else is not put into a proof. */
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/**
 * The latest `DPoP-Nonce` each server gave (RFC 9449 §8, §9), by origin: the next proof to that origin
 * carries it, so a server that wants nonces asks once, not on every call. Bounded: the oldest origin
 * is forgotten first. A nonce is not a secret; it is kept per origin so one server's nonce never
 * reaches another.
 */
export class DpopNonces {
  readonly #byOrigin = new Map<string, string>();
  readonly #maxOrigins: number;

  constructor(options: { maxOrigins?: number } = {}) {
    this.#maxOrigins = options.maxOrigins ?? 1000;
  }

  /** The nonce to send to `url`'s origin, if its server gave one. */
  nonceFor(url: string | URL): string | undefined {
    return this.#byOrigin.get(new URL(url).origin);
  }

  /** Keeps the `DPoP-Nonce` a response carries, if a well-formed one; returns it. */
  remember(url: string | URL, response: Response): string | undefined {
    const nonce = response.headers.get('dpop-nonce') ?? undefined;
    if (nonce === undefined || !NONCE.test(nonce)) return undefined;
    const { origin } = new URL(url);
    this.#byOrigin.delete(origin);
    this.#byOrigin.set(origin, nonce);
    if (this.#byOrigin.size > this.#maxOrigins) {
      this.#byOrigin.delete(this.#byOrigin.keys().next().value as string);
    }
    return nonce;
  }
}

export interface DpopRequestOptions {
  key: DpopKey;
  nonces: DpopNonces;
  /** Sent as `Authorization: DPoP <token>` and hashed into the proof's `ath`; none at a token endpoint. */
  accessToken?: string;
  /** The fetch to send with (a test's, or one bound to a dispatcher). Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Sends a request with a fresh DPoP proof (RFC 9449 §4) for its method and URL, and, when the server
 * answers that it wants a nonce (`use_dpop_nonce` with a `DPoP-Nonce`: a 400 from an authorization
 * server, §8; a 401 challenge from a resource server, §9), sends it once more with a new proof
 * carrying that nonce. A body that can only be read once (a stream) is not resent: the server's
 * answer comes back as it is. `init` may be a function, called for each attempt, when the body holds
 * something single-use (a `private_key_jwt` client assertion).
 *
 * `init.headers` may not carry `DPoP` or, with a token, `Authorization`: they are set here.
 *
 * @example
 * const nonces = new DpopNonces();
 * const response = await dpopFetch('https://api.example/orders', { method: 'GET' }, { key, nonces, accessToken });
 */
export async function dpopFetch(
  url: string | URL,
  init: RequestInit | (() => Promise<RequestInit>),
  options: DpopRequestOptions,
): Promise<Response> {
  const send = options.fetch ?? fetch;
  const first = typeof init === 'function' ? await init() : init;
  const method = first.method ?? 'GET';
  const attempt = async (nonce: string | undefined, init: RequestInit) => {
    const headers = new Headers(init.headers);
    headers.set(
      'dpop',
      await dpopProof(options.key, {
        method,
        url,
        ...(options.accessToken === undefined ? {} : { accessToken: options.accessToken }),
        ...(nonce === undefined ? {} : { nonce }),
      }),
    );
    if (options.accessToken !== undefined) headers.set('authorization', `DPoP ${options.accessToken}`);
    return send(url, { ...init, headers });
  };
  const sent = options.nonces.nonceFor(url);
  const response = await attempt(sent, first);
  const given = options.nonces.remember(url, response);
  if (given === undefined || given === sent) return response;
  if (typeof init !== 'function' && !replayable(init.body)) return response;
  if (!(await asksForNonce(response))) return response;
  // The first answer is dropped unread beyond its error: the retry's answer is the one the caller gets.
  await response.body?.cancel().catch(() => {});
  const retried = await attempt(given, typeof init === 'function' ? await init() : init);
  options.nonces.remember(url, retried);
  return retried;
}

/** `use_dpop_nonce`: in a resource server's `WWW-Authenticate` (§9), or an authorization server's error body (§8). */
async function asksForNonce(response: Response): Promise<boolean> {
  if (response.status === 401) {
    return /\berror="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '');
  }
  if (response.status === 400) {
    const body = (await response
      .clone()
      .json()
      .catch(() => undefined)) as { error?: unknown } | undefined;
    return body?.error === 'use_dpop_nonce';
  }
  return false;
}

/** A body the request can be sent with twice: none, text or bytes, not a stream. */
function replayable(body: RequestInit['body']): boolean {
  return !(body instanceof ReadableStream) && !isAsyncIterable(body);
}

function isAsyncIterable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
