import { TokenCache } from '@baton/core/stores';
import { followRevocations, type RevocationFollowing, type RevocationList } from '@baton/shared-signals';
import { tokenCacheKey, tokenCacheKeyParts } from './cache-key.ts';
import type { PlatformToken, PlatformTokenRequest } from './connector.ts';
import { memoryTokenCache, type TokenCache as TokenStore } from './token-cache.ts';
import type { PlatformTokenRevoker } from './token-revocation.ts';

export interface TokenCachingOptions {
  /** Where tokens are kept between calls. Default: a new in-memory cache for this connector. */
  cache?: TokenStore;
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
  onCacheError?: (error: unknown, operation: 'get' | 'set' | 'delete') => void;
  /**
   * The revocation list to follow (`@baton/shared-signals`): a cached token of a revoked person (its
   * `user.sub`), session, token or client (the request's `provenance`) is dropped from the cache and its
   * store (the vault's encrypted copy), then revoked at the platform when `revocationEndpoint` is set.
   * Dropping fails closed: a cached token the list covers is never served, even before it is dropped.
   * A store that cannot delete goes to `onCacheError` as `'delete'`. Default: none.
   */
  revocations?: RevocationList;
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
  /**
   * Drops the request's cached token (from the store too), so the next call fetches a new one: what a
   * revocation of the user's access does. A request in flight is answered but not kept. Rejects when
   * the store cannot delete the entry.
   */
  evict(request: Pick<PlatformTokenRequest, 'user' | 'scopes'>, platformIdentity?: string): Promise<void>;
  /** Set when following `revocations`. */
  readonly revocations?: RevocationFollowing;
}

/**
 * `revoke`, when given, is told each token a followed revocation dropped (RFC 7009 at the platform).
 */
export function perUserTokenCache(
  connectorId: string,
  options: TokenCachingOptions = {},
  revoke?: PlatformTokenRevoker,
): PerUserTokenCache {
  const onCacheError = options.onCacheError;
  // The shared `TokenCache` of `@baton/core/stores`: single-flight per key, refreshed `refreshSkewSeconds`
  // early, a token already inside that window returned but not kept. The connector's store is the only
  // tier (maxEntries 0), so a token dropped from it (a revocation) is not served from memory here. A
  // failing store is a miss or a lost write, never a failed call.
  const cache = new TokenCache({
    store: options.cache ?? memoryTokenCache({ now: options.now }),
    maxEntries: 0,
    refreshSkewSeconds: options.refreshSkewSeconds ?? DEFAULT_REFRESH_SKEW_SECONDS,
    ...(options.now ? { now: options.now } : {}),
    onStoreError: (error, operation) => onCacheError?.(error, operation),
    ...(revoke
      ? {
          onRevokedDrop: async (token, key) => {
            const entry = tokenCacheKeyParts(key);
            if (entry) await revoke(token, entry);
          },
        }
      : {}),
  });
  const keyOf = (request: PlatformTokenRequest, platformIdentity?: string) =>
    tokenCacheKey(connectorId, request.user, request.scopes, platformIdentity);
  const revocations = options.revocations
    ? followRevocations(options.revocations, cache, {
        onError: (error) => onCacheError?.(error, 'delete'),
      })
    : undefined;
  return {
    token: (request, fetchToken, platformIdentity) =>
      cache.get(keyOf(request, platformIdentity), fetchToken, {
        ...request.provenance,
        // The person is the validated user the key names, whatever the provenance says.
        subject: request.user.sub,
      }) as Promise<PlatformToken>,
    evict: (request, platformIdentity) => cache.evict(keyOf(request, platformIdentity)),
    ...(revocations ? { revocations } : {}),
  };
}
