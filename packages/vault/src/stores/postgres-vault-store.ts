import { migrationLedger, runMigrations, TABLE_PREFIX } from '@baton/core/stores';
import type { Pool } from 'pg';
import type { VaultStore } from '../vault-store.ts';
import { storeCall } from './store-failure.ts';

export interface PostgresVaultStoreOptions {
  /** A pg pool owned by the caller (the store never ends it). */
  readonly pool: Pool;
  /** Prefix of the table name, `<prefix>vault_entries`. Default `baton_`. */
  readonly tablePrefix?: string;
  /** Clock in ms since the epoch; expiry is judged by this clock, not the database's. */
  readonly now?: () => number;
}

const LIST_PAGE = 500;

/**
 * Sealed records in one PostgreSQL table: `id` (canonical entry id), `record` (the sealed record
 * string) and `expires_at`. Expired rows are invisible to reads at once and deleted by `purgeExpired`.
 */
export class PostgresVaultStore implements VaultStore {
  readonly table: string;
  readonly #pool: Pool;
  readonly #now: () => number;

  private constructor(pool: Pool, table: string, now: () => number) {
    this.#pool = pool;
    this.table = table;
    this.#now = now;
  }

  /** Validates options and creates the table if needed (under an advisory lock, safe from many instances). */
  static async open(options: PostgresVaultStoreOptions): Promise<PostgresVaultStore> {
    if (typeof options !== 'object' || options === null || typeof options.pool?.query !== 'function') {
      throw new TypeError('PostgresVaultStore.open needs { pool: pg.Pool }');
    }
    const prefix = options.tablePrefix ?? 'baton_';
    if (typeof prefix !== 'string' || !TABLE_PREFIX.test(prefix)) {
      throw new TypeError(`tablePrefix must match ${TABLE_PREFIX}`);
    }
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    const store = new PostgresVaultStore(options.pool, `${prefix}vault_entries`, options.now ?? Date.now);
    await storeCall('migration', () => store.#migrate(prefix));
    return store;
  }

  /** Through the shared migration runner (versioned, one transaction, advisory-locked). */
  async #migrate(prefix: string): Promise<void> {
    await runMigrations(this.#pool, {
      component: 'vault',
      ledger: migrationLedger(prefix),
      migrations: [
        {
          // Idempotent, so a table created before the ledger existed takes it without harm.
          version: 1,
          description: `${this.table}: sealed records`,
          sql: `
            CREATE TABLE IF NOT EXISTS ${this.table} (
              id text COLLATE "C" PRIMARY KEY,
              record text NOT NULL,
              expires_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ${this.table}_expires_idx ON ${this.table} (expires_at);`,
        },
      ],
    });
  }

  #nowDate(): Date {
    return new Date(this.#now());
  }

  async put(id: string, record: string, expiresAt: number): Promise<void> {
    await storeCall('put', () =>
      this.#pool.query(
        `INSERT INTO ${this.table} (id, record, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, expires_at = EXCLUDED.expires_at`,
        [id, record, new Date(expiresAt)],
      ),
    );
  }

  async get(id: string): Promise<string | undefined> {
    const result = await storeCall('get', () =>
      this.#pool.query<{ record: string }>(
        `SELECT record FROM ${this.table} WHERE id = $1 AND expires_at > $2`,
        [id, this.#nowDate()],
      ),
    );
    return result.rows[0]?.record;
  }

  async delete(id: string): Promise<boolean> {
    const result = await storeCall('delete', () =>
      this.#pool.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]),
    );
    return (result.rowCount ?? 0) > 0;
  }

  async replace(id: string, expected: string, next: string): Promise<boolean> {
    const result = await storeCall('replace', () =>
      this.#pool.query(
        `UPDATE ${this.table} SET record = $3 WHERE id = $1 AND record = $2 AND expires_at > $4`,
        [id, expected, next, this.#nowDate()],
      ),
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * Keyset pagination by id (bytewise `C` collation, so `>` and `ORDER BY` agree and use the primary key):
   * constant memory however large the table, and no long-held cursor.
   */
  async *list(): AsyncIterable<string> {
    let after = '';
    for (;;) {
      const result = await storeCall('list', () =>
        this.#pool.query<{ id: string }>(
          `SELECT id FROM ${this.table} WHERE id > $1 AND expires_at > $2 ORDER BY id LIMIT ${LIST_PAGE}`,
          [after, this.#nowDate()],
        ),
      );
      for (const row of result.rows) yield row.id;
      const last = result.rows.at(-1);
      if (last === undefined || result.rows.length < LIST_PAGE) return;
      after = last.id;
    }
  }

  /** Deletes expired rows; returns how many. Run periodically (reads already ignore them). */
  async purgeExpired(): Promise<number> {
    const result = await storeCall('purge', () =>
      this.#pool.query(`DELETE FROM ${this.table} WHERE expires_at <= $1`, [this.#nowDate()]),
    );
    return result.rowCount ?? 0;
  }
}
