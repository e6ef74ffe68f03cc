import type { Pool } from 'pg';

/**
 * Concurrent `CREATE TABLE IF NOT EXISTS` from several instances can still collide in the catalog, so
 * migrations take a transaction-scoped advisory lock keyed by the table name.
 */
export async function migrate(pool: Pool, lockName: string, sql: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
    await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
