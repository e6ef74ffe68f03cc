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
 * A revocation is a (kind, value) pair, `kind` being `jti`, `root`, `sub`, `session` or `client`
 * (the Redis set holds all but `sub` as `<kind>:<value>`; subjects go to a hash with their `before`).
 * Revocations by jti are deleted together with their token; the others are kept: they also refuse
 * tokens recorded later (subjects and clients until lifted).
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
  // Version 2: when each token was issued and its identity-provider session (both NULL on rows written
  // before, which a subject revoked `before` any instant then covers); revocations by session and by
  // client; a subject's `before` (NULL: disabled, as every v1 subject revocation was). Indexes serve
  // the coverage count of a revocation (by root, subject, session, client, and the descendant walk).
  const v2 = `
ALTER TABLE ${tokens} ADD COLUMN IF NOT EXISTS issued_at bigint;
ALTER TABLE ${tokens} ADD COLUMN IF NOT EXISTS session text;
CREATE INDEX IF NOT EXISTS ${tokens}_parent_idx ON ${tokens} (parent);
CREATE INDEX IF NOT EXISTS ${tokens}_root_idx ON ${tokens} (root);
CREATE INDEX IF NOT EXISTS ${tokens}_subject_idx ON ${tokens} (subject);
CREATE INDEX IF NOT EXISTS ${tokens}_session_idx ON ${tokens} (session);
CREATE INDEX IF NOT EXISTS ${tokens}_client_idx ON ${tokens} (client_id);
ALTER TABLE ${revocations} ADD COLUMN IF NOT EXISTS before bigint;
ALTER TABLE ${revocations} DROP CONSTRAINT IF EXISTS ${revocations}_kind_check;
ALTER TABLE ${revocations} ADD CONSTRAINT ${revocations}_kind_check
  CHECK (kind IN ('jti', 'root', 'sub', 'session', 'client'));`;
  return [
    { version: 1, description: `${tokens}, ${revocations}: issued tokens and revocations`, sql },
    {
      version: 2,
      description: `${tokens}.issued_at/session, ${revocations}.before; session and client revocations`,
      sql: v2,
    },
  ];
}
