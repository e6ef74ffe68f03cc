import type { MigrationConnection } from '@baton/core/stores';
import pg from 'pg';
import { createClient } from 'redis';

/**
 * The slice of a node-redis client the stores use. Raw commands keep the stores independent of the
 * client's generics (modules, RESP version, type mapping), so any connected client fits.
 */
export interface RedisConnection {
  readonly isOpen: boolean;
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>;
}

/** A query as the SQL stores send it: `name` lets pg prepare it once per connection (others ignore it). */
export interface SqlQuery {
  name?: string;
  text: string;
  values?: unknown[];
}

/**
 * The slice of a `pg` `Pool` the SQL stores use. A `pg.Pool` fits as is; so does the embedded store's
 * PGlite database (`openEmbeddedDatabase`), which is how one schema and one code path serve both.
 */
export interface SqlPool {
  query<Row extends object = Record<string, unknown>>(
    query: string | SqlQuery,
    values?: unknown[],
  ): Promise<{ rows: Row[]; rowCount: number | null }>;
  connect(): Promise<MigrationConnection>;
}

/** A connection the store either borrowed (the caller closes it) or opened from a URL (the store closes it). */
export interface Owned<T> {
  connection: T;
  close(): Promise<void>;
}

export function isPool(value: unknown): value is SqlPool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SqlPool).query === 'function' &&
    typeof (value as SqlPool).connect === 'function'
  );
}

/** A pool the caller passed stays theirs; a connection string gets a pool of our own, closed with the store. */
export function postgresFrom(source: unknown, operationTimeoutMs: number): Owned<SqlPool> {
  if (isPool(source)) return { connection: source, close: async () => {} };
  if (typeof source !== 'string' || source.length === 0) {
    throw new TypeError('pool must be a pg.Pool or a PostgreSQL connection string');
  }
  const pool = new pg.Pool({ connectionString: source, connectionTimeoutMillis: operationTimeoutMs });
  // An idle connection dropped by the server emits 'error' on the pool; unhandled, that would end the
  // process. The next query reports the outage instead.
  pool.on('error', () => {});
  return { connection: pool, close: () => pool.end() };
}

/**
 * A client the caller passed stays theirs (and must already be connected). A URL gets a client of our
 * own, connecting in the background, with the offline queue disabled: while Redis is unreachable every
 * command rejects at once instead of waiting for a reconnect, so revocation checks fail closed promptly.
 */
export function redisFrom(
  source: unknown,
  operationTimeoutMs: number,
): Owned<RedisConnection> & { ready: Promise<void> } {
  if (
    typeof source === 'object' &&
    source !== null &&
    typeof (source as RedisConnection).sendCommand === 'function'
  ) {
    return { connection: source as RedisConnection, close: async () => {}, ready: Promise.resolve() };
  }
  if (typeof source !== 'string' || source.length === 0) {
    throw new TypeError('redis must be a node-redis client or a redis:// URL');
  }
  const client = createClient({
    url: source,
    disableOfflineQueue: true,
    socket: { connectTimeout: operationTimeoutMs },
  });
  // Connection errors surface as rejected commands; the event only needs a listener so it cannot crash.
  client.on('error', () => {});
  const ready = client.connect().then(() => undefined);
  ready.catch(() => {});
  return {
    connection: client,
    ready,
    async close() {
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    },
  };
}
