import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';

/**
 * The real PostgreSQL and Redis the store suites run against. Every run uses its own table prefix and
 * Redis key prefix, and removes them at the end, so suites can run concurrently and repeatedly against
 * shared servers.
 */
export const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Ports nothing listens on: stand-ins for a store that is down. */
export const UNREACHABLE_POSTGRES_URL = 'postgres://postgres@127.0.0.1:1/test';
export const UNREACHABLE_REDIS_URL = 'redis://127.0.0.1:1';

/** A fresh, lowercase identifier fragment: a valid table prefix, and readable in a Redis key. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}_`;
}

export function openPool(): pg.Pool {
  return new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
}

export async function openRedis() {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export type TestRedis = Awaited<ReturnType<typeof openRedis>>;

/** Drops every table (and so its indexes) whose name starts with `prefix`. */
export async function dropTables(pool: pg.Pool, prefix: string): Promise<void> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)`,
    [prefix],
  );
  for (const { name } of rows) await pool.query(`DROP TABLE IF EXISTS ${pg.escapeIdentifier(name)}`);
}

/** Deletes every key starting with `prefix`: this suite's stand-in for FLUSHDB on a shared server. */
export async function deleteKeys(redis: TestRedis, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if (keys.length > 0) deleted += await redis.del(keys);
  }
  return deleted;
}
