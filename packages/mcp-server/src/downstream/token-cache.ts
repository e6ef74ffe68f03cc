import {
  type CachedToken as CoreCachedToken,
  TokenCache as CoreTokenCache,
  type KeyValueStore,
  keyValueTokenStore,
  type TokenCacheLookup,
} from '@baton/core/stores';

/** A token obtained for a downstream call, and until when it may be reused. */
export type CachedToken = Pick<CoreCachedToken, 'accessToken' | 'expiresAt'>;

/**
 * A store shared by the instances of a server, e.g. `vaultKeyValue(vault, 'downstream')` from
 * `@baton/vault`: tokens kept there are encrypted at rest. `KeyValueStore` from `@baton/core/stores`;
 * `delete` is optional (without it, `evict` drops this instance's copy, then rejects: the shared copy stays).
 */
export type SharedTokenStore = Pick<KeyValueStore, 'get' | 'set'> & Partial<Pick<KeyValueStore, 'delete'>>;

export type { TokenCacheLookup } from '@baton/core/stores';

/**
 * Reuses downstream tokens until shortly before they expire, one in-flight request per key
 * (concurrent calls for the same key wait for the same answer): `@baton/core/stores`' `TokenCache`,
 * bounded in memory (least recently used evicted first), with the shared store behind it. Keys are built
 * by the caller from the validated identity, so one person's token is never served to another. A
 * shared store that fails fails the call.
 */
export class TokenCache extends CoreTokenCache {
  constructor(
    options: {
      refreshSkewSeconds?: number;
      store?: SharedTokenStore;
      maxEntries?: number;
      /** Told how each lookup was answered (metrics); never the key or the token. */
      onLookup?: (result: TokenCacheLookup) => void;
    } = {},
  ) {
    super({
      ...(options.onLookup ? { onLookup: options.onLookup } : {}),
      ...(options.refreshSkewSeconds === undefined ? {} : { refreshSkewSeconds: options.refreshSkewSeconds }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.store ? { store: keyValueTokenStore(options.store) } : {}),
    });
  }
}
