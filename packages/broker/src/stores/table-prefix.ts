import { TABLE_PREFIX } from '@baton/core/stores';

/**
 * Table names cannot be bound as query parameters, so a configurable prefix is spliced into SQL text:
 * `TABLE_PREFIX` (`@baton/core/stores`, the rule every Baton store shares) keeps the longest derived
 * name (prefix + `oidc_payloads_user_code_idx`) under PostgreSQL's 63-byte identifier limit.
 */
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
