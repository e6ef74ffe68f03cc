/**
 * The few calls the migration runner makes: a `pg` `Pool` fits as is, and so does any client with the
 * same shape, so `@baton/core` never imports a database driver.
 */
export interface MigrationConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  release(): void;
}

export interface MigrationPool {
  connect(): Promise<MigrationConnection>;
}

/** One schema change. Versions of a component start at 1 and never change once released. */
export interface Migration {
  readonly version: number;
  /** Recorded in the ledger, for operators. */
  readonly description: string;
  /** One or more statements, run inside the migration transaction. */
  readonly sql: string;
}

export interface RunMigrationsOptions {
  /** Whose migrations these are, e.g. `"vault"`, `"audit-store"`; versions count per component. */
  readonly component: string;
  readonly migrations: readonly Migration[];
  /**
   * The ledger table recording applied versions, one per table prefix (`<prefix>schema_migrations`).
   * Spliced into SQL, so only a plain lowercase identifier is accepted. Default `baton_schema_migrations`.
   */
  readonly ledger?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * What a configurable table-name prefix may be. Table names cannot be bound as query parameters, so
 * the prefix is spliced into SQL text: only a plain lowercase identifier fragment is accepted, so
 * nothing needs quoting and nothing can inject, and the longest derived name stays under PostgreSQL's
 * 63-byte identifier limit. Every Baton store with a `tablePrefix` checks it against this.
 */
export const TABLE_PREFIX = /^[a-z_][a-z0-9_]{0,31}$/;

/** The migration ledger of the stores sharing `prefix`: `<prefix>schema_migrations`. */
export function migrationLedger(prefix: string): string {
  return `${prefix}schema_migrations`;
}

/**
 * Applies the migrations of `component` not yet recorded in the ledger, in version order, in one
 * transaction under an advisory lock taken on the ledger's name: instances starting together queue on
 * the lock, and each later one finds the versions the first recorded, so every migration runs exactly
 * once and a failure leaves no half-applied version. Versions in the ledger this code does not know (a
 * newer release migrated the database) are left alone. Returns the versions applied now.
 *
 * @example
 * await runMigrations(pool, {
 *   component: 'vault',
 *   ledger: 'baton_schema_migrations',
 *   migrations: [{ version: 1, description: 'entries table', sql: 'CREATE TABLE …' }],
 * });
 */
export async function runMigrations(pool: MigrationPool, options: RunMigrationsOptions): Promise<number[]> {
  const ledger = options.ledger ?? 'baton_schema_migrations';
  if (!IDENTIFIER.test(ledger)) throw new TypeError(`ledger must match ${IDENTIFIER}`);
  if (typeof options.component !== 'string' || options.component === '')
    throw new TypeError('component must be a non-empty string');
  let previous = 0;
  for (const migration of options.migrations) {
    if (!Number.isSafeInteger(migration.version) || migration.version <= previous) {
      throw new TypeError(`migration versions of ${options.component} must be increasing integers from 1`);
    }
    previous = migration.version;
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`baton-migrations:${ledger}`]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${ledger} (
        component text NOT NULL,
        version integer NOT NULL,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )`);
    const { rows } = await client.query(`SELECT version FROM ${ledger} WHERE component = $1`, [
      options.component,
    ]);
    const done = new Set(rows.map((row) => Number((row as { version: unknown }).version)));
    const applied: number[] = [];
    for (const migration of options.migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${ledger} (component, version, description) VALUES ($1, $2, $3)`, [
        options.component,
        migration.version,
        migration.description,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
