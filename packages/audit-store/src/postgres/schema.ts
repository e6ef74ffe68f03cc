import { type MigrationPool, migrationLedger, runMigrations } from '@baton/core/stores';

/** The prefix rule every Baton store shares (`@baton/core/stores`). */
export { TABLE_PREFIX } from '@baton/core/stores';

export interface AuditTables {
  events: string;
  checkpoints: string;
  keys: string;
  /** The migration ledger shared by every Baton store with this prefix. */
  ledger: string;
}

export function auditTables(prefix: string): AuditTables {
  return {
    events: `${prefix}audit_events`,
    checkpoints: `${prefix}audit_checkpoints`,
    keys: `${prefix}audit_keys`,
    ledger: migrationLedger(prefix),
  };
}

/**
 * Creates the tables if needed, through the shared migration runner (versioned, in one transaction,
 * under an advisory lock: safe from many instances at once). Version 1 is idempotent, so a database
 * created before the migration ledger existed takes it without harm.
 *
 * Events: one row per chain record, keyed by (writer, seq), the record's position in its writer's
 * chain, so re-draining an outbox inserts each record exactly once. The query fields are columns with
 * bytewise `C` collation so `=`, `>=`, `<=` and `ORDER BY` compare exactly as JavaScript strings do in
 * `matchesQuery`; `time` is kept as the RFC 3339 text the event carries, for the same reason.
 */
export async function migrate(pool: MigrationPool, tables: AuditTables): Promise<void> {
  await runMigrations(pool, {
    component: 'audit-store',
    ledger: tables.ledger,
    migrations: [
      {
        version: 1,
        description: 'audit events, checkpoints and keys',
        sql: `
      CREATE TABLE IF NOT EXISTS ${tables.events} (
        writer text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        prev text NOT NULL,
        hash text NOT NULL,
        id text COLLATE "C" NOT NULL,
        time text COLLATE "C" NOT NULL,
        trace_id text COLLATE "C" NOT NULL,
        initiator_sub text COLLATE "C" NOT NULL,
        agent_client_id text COLLATE "C" NOT NULL,
        target_name text COLLATE "C" NOT NULL,
        outcome text COLLATE "C" NOT NULL,
        event jsonb NOT NULL,
        CONSTRAINT ${tables.events}_pkey PRIMARY KEY (writer, seq)
      );
      CREATE INDEX IF NOT EXISTS ${tables.events}_time_idx ON ${tables.events} (time);
      CREATE INDEX IF NOT EXISTS ${tables.events}_trace_idx ON ${tables.events} (trace_id, time);
      CREATE INDEX IF NOT EXISTS ${tables.events}_user_idx ON ${tables.events} (initiator_sub, time);
      CREATE INDEX IF NOT EXISTS ${tables.events}_agent_idx ON ${tables.events} (agent_client_id, time);
      CREATE INDEX IF NOT EXISTS ${tables.events}_target_idx ON ${tables.events} (target_name, time);
      CREATE INDEX IF NOT EXISTS ${tables.events}_id_idx ON ${tables.events} (id);
      CREATE TABLE IF NOT EXISTS ${tables.checkpoints} (
        writer text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        hash text NOT NULL,
        time text NOT NULL,
        kid text NOT NULL,
        signature text NOT NULL,
        CONSTRAINT ${tables.checkpoints}_pkey PRIMARY KEY (writer, seq)
      );
      CREATE TABLE IF NOT EXISTS ${tables.keys} (
        kid text COLLATE "C" PRIMARY KEY,
        jwk jsonb NOT NULL
      );`,
      },
    ],
  });
}
