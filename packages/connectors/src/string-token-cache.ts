import { decodeCachedToken, encodeCachedToken, type TokenCache } from './token-cache.ts';

/**
 * A `TokenCache` over any string store — typically `vaultKeyValue(vault, 'platform-tokens')` from
 * `@baton/vault`, so platform tokens are encrypted at rest.
 */
export function stringTokenCache(store: {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}): TokenCache {
  return {
    async get(key) {
      const value = await store.get(key);
      return value === undefined ? undefined : decodeCachedToken(value);
    },
    set: (key, token, ttlSeconds) => store.set(key, encodeCachedToken(token), ttlSeconds),
    delete: (key) => store.delete(key),
  };
}
