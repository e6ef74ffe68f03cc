import type { DpopKey } from '@baton/broker-client';

/** RFC 9449 §8.1: a nonce is 1*NQCHAR; anything else is not put into a proof. */
const NONCE = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/**
 * Sends a request to a resource server with a DPoP-bound token (RFC 9449 §7): `Authorization: DPoP
 * <token>` and a fresh proof of `key` for this method and URL (`ath` of the token, and the last nonce
 * the server gave, which the key remembers per origin). When the server answers with a
 * `use_dpop_nonce` challenge and a `DPoP-Nonce` (§9), the request is sent once more with a new proof
 * carrying it. A body that can only be read once (a stream) is not resent: the 401 comes back as it is.
 *
 * `init.headers` may not carry `Authorization` or `DPoP`: they are set here.
 */
export async function dpopFetch(
  url: URL,
  init: RequestInit,
  options: { key: DpopKey; accessToken: string; fetch: typeof fetch },
): Promise<Response> {
  const method = init.method ?? 'GET';
  const attempt = async () => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `DPoP ${options.accessToken}`);
    headers.set('dpop', await options.key.proof({ method, url, accessToken: options.accessToken }));
    return options.fetch(url, { ...init, headers });
  };
  const response = await attempt();
  const nonce = remember(options.key, url, response);
  if (nonce === undefined || !replayable(init.body) || !asksForNonce(response)) return response;
  // Only the retry's answer reaches the caller.
  await response.body?.cancel().catch(() => {});
  const retried = await attempt();
  remember(options.key, url, retried);
  return retried;
}

/** Keeps a well-formed `DPoP-Nonce` the server gave (§8.2: any response may carry a fresh one). */
function remember(key: DpopKey, url: URL, response: Response): string | undefined {
  const nonce = response.headers.get('dpop-nonce') ?? undefined;
  if (nonce === undefined || !NONCE.test(nonce)) return undefined;
  key.acceptNonce(url, nonce);
  return nonce;
}

/** A resource server's nonce challenge (§9): 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`. */
function asksForNonce(response: Response): boolean {
  return (
    response.status === 401 && /\berror="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '')
  );
}

/** A body the request can be sent with twice: none, text or bytes, not a stream. */
function replayable(body: RequestInit['body']): boolean {
  return (
    !(body instanceof ReadableStream) &&
    !(typeof body === 'object' && body !== null && Symbol.asyncIterator in body)
  );
}
