import { createHash } from 'node:crypto';
import type { KeyValueStore } from '@baton/core/stores';
import type { Vault } from './vault.ts';

/**
 * A string key-value view of the vault: what token caches plug into. It is `@baton/core/stores`'
 * `KeyValueStore`, and passes that contract's conformance suite over every vault store.
 */
export type EncryptedKeyValue = KeyValueStore;

/**
 * Token caches keep their entries here so that every cached token is encrypted at rest. Cache keys
 * name a person, an agent and an audience; entry ids are stored in clear, so keys are hashed first.
 * A `ttlSeconds` beyond the vault's `maxTtlSeconds` is clamped to it: the entry then lapses before the
 * value does, and the caller fetches it again.
 *
 * @example
 * const cache = vaultKeyValue(vault, 'downstream');
 * await cache.set(key, JSON.stringify(token), 300);
 */
export function vaultKeyValue(vault: Vault, namespace: string): EncryptedKeyValue {
  const entry = (key: string) => ({ namespace, key: createHash('sha256').update(key).digest('base64url') });
  return {
    async get(key) {
      const value = await vault.get(entry(key));
      return typeof value === 'string' ? value : undefined;
    },
    async set(key, value, ttlSeconds) {
      const ttl = Math.min(Math.max(1, Math.floor(ttlSeconds)), vault.maxTtlSeconds);
      await vault.put(entry(key), value, { ttlSeconds: ttl });
    },
    async delete(key) {
      await vault.delete(entry(key));
    },
  };
}
