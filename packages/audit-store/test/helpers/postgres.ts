import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';

/** The machine's PostgreSQL (trust auth); every test isolates itself with a unique table prefix. */
export const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Nothing listens on port 1: connecting is refused at once. */
export const UNREACHABLE_URL = 'postgres://postgres@127.0.0.1:1/test';

export function postgresPool(connectionString = POSTGRES_URL): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 4, connectionTimeoutMillis: 2000 });
  pool.on('error', () => {});
  return pool;
}

/** A fresh table prefix for one test (lowercase, fits `TABLE_PREFIX`). */
export const uniquePrefix = (tag: string) => `as_${tag}_${randomBytes(4).toString('hex')}_`;

/** Drops every table whose name starts with `prefix` (ours, so [a-z0-9_] only). */
export async function dropTables(pool: pg.Pool, prefix: string): Promise<void> {
  const { rows } = await pool.query<{ tablename: string }>(
    'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
    [prefix],
  );
  for (const { tablename } of rows) await pool.query(`DROP TABLE IF EXISTS ${tablename}`);
}

/** A temporary directory removed by the returned function. */
export function tempDirectory(tag: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `baton-audit-${tag}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * One test file's PostgreSQL run: a pool on the real server, one that cannot connect, a fresh table
 * prefix per call of `tablePrefix()`, and temporary directories; all dropped, ended and removed
 * once the file's tests are done.
 */
export function postgresTestRun(tag: string) {
  const pool = postgresPool();
  const unreachable = postgresPool(UNREACHABLE_URL);
  const pools = [pool, unreachable];
  const runPrefix = uniquePrefix(tag);
  const directories: Array<{ remove(): void }> = [];
  let tables = 0;
  after(async () => {
    await dropTables(pool, runPrefix);
    for (const each of pools) await each.end();
    for (const created of directories) created.remove();
  });
  return {
    pool,
    unreachable,
    /** A table prefix no other test in the run uses. */
    tablePrefix: () => `${runPrefix}${tables++}_`,
    /** A temporary directory removed after the run. */
    directory(directoryTag: string): string {
      const created = tempDirectory(directoryTag);
      directories.push(created);
      return created.path;
    },
    /** A pool to `connectionString`, ended with the run's own. */
    poolTo(connectionString: string): pg.Pool {
      const extra = postgresPool(connectionString);
      pools.push(extra);
      return extra;
    },
  };
}
