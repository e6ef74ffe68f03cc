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
  /**
   * Told when the cache fails to read or write an entry (a tampered or unreadable vault record, a store
   * outage, a TTL the store refuses). The call itself goes on: a failed read is a miss and the token is
   * fetched fresh; a failed write still returns the fetched token. The error never holds the token.
   * Default: ignored.
   */
  onCacheError?: (error: unknown, operation: 'get' | 'set') => void;
}

export const DEFAULT_REFRESH_SKEW_SECONDS = 30;

/** One connector's view of the cache: per-user lookups, at most one platform request per key at a time. */
export interface PerUserTokenCache {
  /**
   * The cached token for the request's user, tenant and scopes while it is fresh; otherwise the result of
   * `fetchToken`, which callers asking for the same key at the same time share instead of each sending
   * their own request (single-flight). `platformIdentity`, when the connector acts as a mapped platform
   * user, is part of the key, so a token for a previous mapping is never served.
   */
  token(
    request: PlatformTokenRequest,
    fetchToken: () => Promise<PlatformToken>,
    platformIdentity?: string,
  ): Promise<PlatformToken>;
}

export function perUserTokenCache(connectorId: string, options: TokenCachingOptions = {}): PerUserTokenCache {
  const cache = options.cache ?? memoryTokenCache({ now: options.now });
  const skew = options.refreshSkewSeconds ?? DEFAULT_REFRESH_SKEW_SECONDS;
  if (!Number.isFinite(skew) || skew < 0) {
    throw new TypeError('refreshSkewSeconds must be a non-negative number');
  }
  const nowSeconds = () => (options.now ?? Date.now)() / 1000;
  const isFresh = (token: PlatformToken) => token.expiresAt - skew > nowSeconds();
  const reportCacheError = (error: unknown, operation: 'get' | 'set') => {
    try {
      options.onCacheError?.(error, operation);
    } catch {
      // A failing observer must not fail the call either.
    }
  };
  // Keyed like the cache, so a request in flight for one user is never handed to another.
  const inFlight = new Map<string, Promise<PlatformToken>>();

  async function fetchAndStore(
    key: string,
    fetchToken: () => Promise<PlatformToken>,
  ): Promise<PlatformToken> {
    const token = await fetchToken();
    // A token already inside the skew window is returned to this caller but not kept: the next caller
    // would have to replace it anyway.
    // The cache is an optimisation: a write it refuses (a store outage, a lifetime beyond what it keeps)
    // must not throw away a token the platform has just issued.
    if (isFresh(token)) {
      try {
        await cache.set(key, token, Math.ceil(token.expiresAt - nowSeconds()));
      } catch (error) {
        reportCacheError(error, 'set');
      }
    }
    return token;
  }

  return {
    async token(request, fetchToken, platformIdentity) {
      const key = tokenCacheKey(connectorId, request.user, request.scopes, platformIdentity);
      const pending = inFlight.get(key);
      if (pending) return pending;
      let cached: PlatformToken | undefined;
      try {
        cached = await cache.get(key);
      } catch (error) {
        // An unreadable entry (tampered, sealed under a retired key, store down) is a miss: the fresh
        // token fetched below overwrites it.
        reportCacheError(error, 'get');
        cached = undefined;
      }
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
