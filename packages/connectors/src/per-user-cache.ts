import { tokenCacheKey } from './cache-key.ts';
import type { PlatformToken, PlatformTokenRequest } from './connector.ts';
import { memoryTokenCache, type TokenCache } from './token-cache.ts';

export interface TokenCachingOptions {
  /** Where tokens are kept between calls. Default: a new in-memory cache for this connector. */
  cache?: TokenCache;
  /**
   * A cached token is replaced this long before it expires, so no caller gets one about to lapse.
   * Default 30.
   */
  refreshSkewSeconds?: number;
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  now?: () => number;
}

export const DEFAULT_REFRESH_SKEW_SECONDS = 30;

/** One connector's view of the cache: per-user lookups, at most one platform request per key at a time. */
export interface PerUserTokenCache {
  /**
   * The cached token for the request's user, tenant and scopes while it is fresh; otherwise the result of
   * `fetchToken`, which callers asking for the same key at the same time share instead of each sending
   * their own request (single-flight).
   */
  token(request: PlatformTokenRequest, fetchToken: () => Promise<PlatformToken>): Promise<PlatformToken>;
}

export function perUserTokenCache(connectorId: string, options: TokenCachingOptions = {}): PerUserTokenCache {
  const cache = options.cache ?? memoryTokenCache({ now: options.now });
  const skew = options.refreshSkewSeconds ?? DEFAULT_REFRESH_SKEW_SECONDS;
  if (!Number.isFinite(skew) || skew < 0) {
    throw new TypeError('refreshSkewSeconds must be a non-negative number');
  }
  const nowSeconds = () => (options.now ?? Date.now)() / 1000;
  const isFresh = (token: PlatformToken) => token.expiresAt - skew > nowSeconds();
  // Keyed like the cache, so a request in flight for one user is never handed to another.
  const inFlight = new Map<string, Promise<PlatformToken>>();

  async function fetchAndStore(
    key: string,
    fetchToken: () => Promise<PlatformToken>,
  ): Promise<PlatformToken> {
    const token = await fetchToken();
    // A token already inside the skew window is returned to this caller but not kept: the next caller
    // would have to replace it anyway.
    if (isFresh(token)) await cache.set(key, token, Math.ceil(token.expiresAt - nowSeconds()));
    return token;
  }

  return {
    async token(request, fetchToken) {
      const key = tokenCacheKey(connectorId, request.user, request.scopes);
      const pending = inFlight.get(key);
      if (pending) return pending;
      const cached = await cache.get(key);
      if (cached && isFresh(cached)) return cached;
      // Another caller may have started the request while this one was reading the cache.
      const started = inFlight.get(key);
      if (started) return started;
      const fetching = fetchAndStore(key, fetchToken).finally(() => inFlight.delete(key));
      inFlight.set(key, fetching);
      return fetching;
    },
  };
}
