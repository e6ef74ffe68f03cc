import { type KeyValueStore, keyValueTokenStore } from '@baton/core/stores';
import type { TokenCache } from './token-cache.ts';

/**
 * A `TokenCache` over any string store (`KeyValueStore` from `@baton/core/stores`) — typically
 * `vaultKeyValue(vault, 'platform-tokens')` from `@baton/vault`, so platform tokens are encrypted at rest.
 */
export function stringTokenCache(store: KeyValueStore): TokenCache {
  return keyValueTokenStore(store);
}
