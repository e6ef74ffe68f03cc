/**
 * `@baton/core/stores`: the storage contracts every package shares, runtime-neutral and driver-free —
 * the PostgreSQL migration runner (over a minimal query client), the string key-value contract and the
 * token cache.
 */
export {
  type KeyValueStore,
  type MemoryKeyValueOptions,
  memoryKeyValue,
} from './key-value.ts';
export {
  type Migration,
  type MigrationConnection,
  type MigrationPool,
  migrationLedger,
  type RunMigrationsOptions,
  runMigrations,
  TABLE_PREFIX,
} from './migrations.ts';
export type { RevocationFollower, RevocationTest, TokenProvenance } from './provenance.ts';
export {
  type CachedToken,
  decodeCachedToken,
  encodeCachedToken,
  keyValueTokenStore,
  TokenCache,
  type TokenCacheLookup,
  type TokenCacheOptions,
  type TokenStore,
} from './token-cache.ts';
