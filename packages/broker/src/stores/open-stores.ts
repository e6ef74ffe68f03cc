import type { ReadinessCheck } from '@baton/resource-server/operations';
import { MemoryStreamStore, SqlStreamStore, type StreamStore } from '@baton/shared-signals';
import type { AdapterFactory } from 'oidc-provider';
import type { BrokerConfig } from '../config.ts';
import { MemoryTokenRegistry } from '../registry/memory-registry.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
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
  close(): Promise<void>;
}

/** One stream store per opened store, made (and migrated) at the first call. */
function lazyStreamStore(open: () => Promise<StreamStore>): () => Promise<StreamStore> {
  let store: Promise<StreamStore> | undefined;
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
      sharedSignalsStore: lazyStreamStore(async () => new MemoryStreamStore()),
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
      sharedSignalsStore: lazyStreamStore(() =>
        SqlStreamStore.create({ pool, ...(store.tablePrefix ? { tablePrefix: store.tablePrefix } : {}) }),
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
      sharedSignalsStore: lazyStreamStore(() => SqlStreamStore.create({ pool })),
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
