/**
 * Table names cannot be bound as query parameters, so a configurable prefix is spliced into SQL text.
 * Only a plain lowercase identifier fragment is accepted: no quoting is ever needed, nothing can inject,
 * and the longest derived name (prefix + `oidc_payloads_user_code_idx`) stays under PostgreSQL's
 * 63-byte identifier limit.
 */
const TABLE_PREFIX = /^[a-z_][a-z0-9_]{0,31}$/;

export const DEFAULT_TABLE_PREFIX = 'baton_';

export function tablePrefixOf(value: unknown): string {
  if (value === undefined) return DEFAULT_TABLE_PREFIX;
  if (typeof value !== 'string' || !TABLE_PREFIX.test(value)) {
    throw new TypeError(
      `tablePrefix must match ${TABLE_PREFIX} (lowercase letters, digits, underscores; at most 32 characters)`,
    );
  }
  return value;
}
