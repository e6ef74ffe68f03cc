import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';

/** The machine's PostgreSQL (trust auth) and Redis; every test run isolates itself with unique prefixes. */
export const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const uniqueSuffix = () => randomBytes(5).toString('hex');

export function postgresPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  pool.on('error', () => {});
  return pool;
}

/** Drops every table whose name starts with `prefix` (the prefix is ours and matches [a-z0-9_]). */
export async function dropTables(pool: pg.Pool, prefix: string): Promise<void> {
  const { rows } = await pool.query<{ tablename: string }>(
    'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
    [prefix],
  );
  for (const { tablename } of rows) await pool.query(`DROP TABLE IF EXISTS ${tablename}`);
}

export async function redisClient() {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export type Redis = Awaited<ReturnType<typeof redisClient>>;

/** Deletes every key under `prefix` (SCAN, so the server is never blocked). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const reply = (await client.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000'])) as [
      string,
      string[],
    ];
    cursor = reply[0];
    if (reply[1].length > 0) await client.sendCommand(['DEL', ...reply[1]]);
  } while (cursor !== '0');
}
