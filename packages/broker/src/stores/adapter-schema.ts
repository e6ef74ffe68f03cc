import type { Migration } from '@baton/core/stores';

/**
 * One table for every oidc-provider model, keyed by (model, id). The payload is stored whole (jsonb);
 * the columns beside it exist only to be indexed: the secondary lookups oidc-provider makes (by
 * session uid, by device user code) and the grant that revocation removes at once. `expires_at` NULL
 * means the model asked for no expiry (registered clients, for instance). Version 1 is idempotent, so
 * a database created before the migration ledger existed takes it without harm.
 */
export function adapterMigrations(table: string): Migration[] {
  const sql = `
CREATE TABLE IF NOT EXISTS ${table} (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS ${table}_grant_id_idx ON ${table} (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${table}_uid_idx ON ${table} (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${table}_user_code_idx ON ${table} (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${table}_expires_at_idx ON ${table} (expires_at) WHERE expires_at IS NOT NULL;`;
  return [{ version: 1, description: `${table}: oidc-provider models`, sql }];
}
