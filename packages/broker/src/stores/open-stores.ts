import type { ReadinessCheck } from '@baton/resource-server/operations';
import { MemoryStreamStore, SqlStreamStore, type StreamStore } from '@baton/shared-signals';
import type { AdapterFactory } from 'oidc-provider';
import type { BrokerConfig } from '../config.ts';
import { MemoryTokenRegistry } from '../registry/memory-registry.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { MemoryScimStore } from '../scim/memory-store.ts';
import type { ScimStore } from '../scim/scim-store.ts';
import { SqlScimStore } from '../scim/sql-store.ts';
import { postgresFrom } from './connections.ts';
import { DEFAULT_OPERATION_TIMEOUT_MS } from './deadline.ts';
import { DEFAULT_EMBEDDED_DIRECTORY, openEmbeddedDatabase } from './embedded-database.ts';
import { createMemoryAdapterFactory } from './memory-adapter.ts';
import { createPostgresAdapterFactory } from './postgres-adapter.ts';
import { PostgresRedisTokenRegistry } from './postgres-redis-registry.ts';

export interface BrokerStores {
  registry: TokenRegistry;
  adapter: AdapterFactory;
  /** What the broker's `/readyz` checks (`startBroker({ operations: { readiness: stores.checks } })`). */
  checks: ReadinessCheck[];
  /**
   * The Shared Signals transmitter's streams and queues in the same store (`startBroker({ sharedSignals:
   * { store: await stores.sharedSignalsStore() } })`): on PostgreSQL every instance shares them. Its
   * tables are created at the first call.
   */
  sharedSignalsStore(): Promise<StreamStore>;
  /**
   * The SCIM directory in the same store (`startBroker({ scim: { store: await stores.scimStore() } })`):
   * on PostgreSQL every instance serves one directory. Its table is created at the first call.
   */
  scimStore(): Promise<ScimStore>;
  close(): Promise<void>;
}

/** One store per opened store, made (and migrated) at the first call; a failed opening is tried again. */
function lazyStore<T>(open: () => Promise<T>): () => Promise<T> {
  let store: Promise<T> | undefined;
  return () => {
    store ??= open();
    store.catch(() => {
      store = undefined;
    });
    return store;
  };
}

/**
 * The embedded store by default: one process, nothing to install, and durable — PGlite in a data
 * directory, running the PostgreSQL adapter and registry on the same schema, with the revocation set
 * held in the process. PostgreSQL for state and Redis for revocation sets in production, so that
 * several stateless broker instances share clients, replay detection, issued-token records and
 * revocations. `memory` keeps nothing across a restart (tests).
 */
export async function openStores(store: BrokerConfig['store']): Promise<BrokerStores> {
  if (store.kind === 'memory') {
    const registry = new MemoryTokenRegistry();
    return {
      registry,
      adapter: createMemoryAdapterFactory(),
      checks: [],
      sharedSignalsStore: lazyStore(async () => new MemoryStreamStore()),
      scimStore: lazyStore(async () => new MemoryScimStore()),
      close: () => registry.close(),
    };
  }
  if (store.kind === 'embedded') return openEmbeddedStores(store.directory ?? DEFAULT_EMBEDDED_DIRECTORY);
  // One pool shared by the registry and the adapter, with a connection timeout and an 'error' listener:
  // without one, a dropped idle connection would crash the process.
  const { connection: pool, close: closePool } = postgresFrom(
    store.postgresUrl,
    DEFAULT_OPERATION_TIMEOUT_MS,
  );
  try {
    const registry = await PostgresRedisTokenRegistry.create({
      pool,
      redis: store.redisUrl,
      ...(store.tablePrefix ? { tablePrefix: store.tablePrefix } : {}),
      ...(store.keyPrefix ? { keyPrefix: store.keyPrefix } : {}),
    });
    const adapter = createPostgresAdapterFactory(
      pool,
      store.tablePrefix ? { tablePrefix: store.tablePrefix } : {},
    );
    await adapter.migrate();
    return {
      registry,
      adapter,
      checks: registry.readinessChecks(),
      sharedSignalsStore: lazyStore(() =>
        SqlStreamStore.create({ pool, ...(store.tablePrefix ? { tablePrefix: store.tablePrefix } : {}) }),
      ),
      scimStore: lazyStore(() =>
        SqlScimStore.create({ pool, ...(store.tablePrefix ? { tablePrefix: store.tablePrefix } : {}) }),
      ),
      async close() {
        await registry.close();
        await closePool();
      },
    };
  } catch (error) {
    await closePool();
    throw error;
  }
}

async function openEmbeddedStores(directory: string): Promise<BrokerStores> {
  const database = await openEmbeddedDatabase(directory);
  const pool = database.connection;
  try {
    const registry = await PostgresRedisTokenRegistry.create({ pool, redis: 'single-process' });
    const adapter = createPostgresAdapterFactory(pool);
    await adapter.migrate();
    return {
      registry,
      adapter,
      checks: [{ name: 'embedded_store', check: () => pool.query('SELECT 1') }],
      sharedSignalsStore: lazyStore(() => SqlStreamStore.create({ pool })),
      scimStore: lazyStore(() => SqlScimStore.create({ pool })),
      async close() {
        await registry.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}
