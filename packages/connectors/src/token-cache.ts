import {
  decodeCachedToken as decodeToken,
  encodeCachedToken,
  keyValueTokenStore,
  memoryKeyValue,
  type TokenStore,
} from '@baton/core/stores';
import type { PlatformToken } from './connector.ts';

/** What a cache holds: a plain JSON value, so a store can serialize and encrypt it (`encodeCachedToken`). */
export type CachedToken = PlatformToken;

/**
 * Where connectors keep platform tokens between calls: `@baton/core/stores`'s `TokenStore`. Keys come
 * from `tokenCacheKey` and already separate connectors, users, tenants and scope sets; a store only has
 * to keep them apart. Any store works (memory, an encrypted vault, Redis): the connector re-checks
 * expiry itself, so `ttlSeconds` is the latest a store may keep an entry, not a promise that it will.
 */
export type TokenCache = TokenStore;

export interface MemoryTokenCacheOptions {
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  now?: () => number;
  /** At most this many tokens; the least recently used is dropped first. Default 10 000. */
  maxEntries?: number;
}

/**
 * The default cache: one process, `memoryKeyValue` from `@baton/core/stores` (bounded, expiry-aware).
 * Values are stored serialized, as a vault would store them, so a caller mutating a returned token
 * cannot change what the next caller gets.
 */
export function memoryTokenCache(options: MemoryTokenCacheOptions = {}): TokenCache {
  return keyValueTokenStore(memoryKeyValue({ now: options.now, maxEntries: options.maxEntries }));
}

export { encodeCachedToken };

/** Reads `encodeCachedToken` output back; anything else is treated as a miss (`undefined`), never thrown. */
export function decodeCachedToken(value: string): CachedToken | undefined {
  return decodeToken(value);
}
