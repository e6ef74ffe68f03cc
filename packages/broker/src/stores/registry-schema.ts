import type { Migration } from '@baton/core/stores';

/** The registry's two tables, named from one prefix so several deployments (or test runs) share a database. */
export interface RegistryTables {
  tokens: string;
  revocations: string;
}

export function registryTables(prefix: string): RegistryTables {
  return { tokens: `${prefix}issued_tokens`, revocations: `${prefix}revocations` };
}

/**
 * Every broker instance runs these at startup (`runMigrations`); version 1 is idempotent, so a
 * database created before the migration ledger existed takes it without harm.
 *
 * `retain_until` is the latest `exp` of the token and everything exchanged from it. A token is deleted
 * only once its whole subtree has expired, because descendants may outlive their parent, and a
 * forgotten ancestor makes its descendants inactive (see `chainIsActive`).
 *
 * A revocation is a (kind, value) pair, `kind` being `jti`, `root` or `sub`, the same strings the Redis
 * set holds as `<kind>:<value>`. Revocations by jti are deleted together with their token;
 * revocations by root or subject are kept: they also refuse tokens recorded later.
 */
export function registryMigrations(tables: RegistryTables): Migration[] {
  const { tokens, revocations } = tables;
  const sql = `
CREATE TABLE IF NOT EXISTS ${tokens} (
  jti text PRIMARY KEY,
  parent text,
  root text NOT NULL,
  subject text NOT NULL,
  client_id text NOT NULL,
  audience text NOT NULL,
  exp bigint NOT NULL,
  retain_until bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ${tokens}_retain_until_idx ON ${tokens} (retain_until);
CREATE TABLE IF NOT EXISTS ${revocations} (
  kind text NOT NULL CHECK (kind IN ('jti', 'root', 'sub')),
  value text NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, value)
);`;
  return [{ version: 1, description: `${tokens}, ${revocations}: issued tokens and revocations`, sql }];
}
