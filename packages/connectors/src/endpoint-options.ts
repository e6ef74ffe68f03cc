/** Grant type of RFC 7523 §2.1, also used by Entra's on-behalf-of flow. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export const DEFAULT_TIMEOUT_MS = 10_000;
/** For platforms that omit `expires_in`: short, so a guess errs towards asking again. */
export const DEFAULT_EXPIRES_IN_SECONDS = 300;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Refuses a token endpoint that would send credentials in the clear: https, or http on loopback only
 * (local test peers).
 */
export function checkTokenEndpoint(tokenEndpoint: string, name = 'tokenEndpoint'): string {
  const url = URL.parse(tokenEndpoint);
  if (!url) throw new TypeError(`${name} must be an absolute URL`);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    // As given, not normalised: it is also the default assertion audience, compared verbatim.
    return tokenEndpoint;
  }
  throw new TypeError(`${name} must use https (plain http is accepted on loopback only)`);
}

export function checkPositive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
  return value;
}
