import type { ConnectorUser } from './connector.ts';

/**
 * The cache key of one user's token for one scope set at one connector. The parts are JSON-encoded
 * rather than joined, so no subject, tenant or scope containing a separator can make two users' keys
 * collide; scopes are sorted and deduplicated so that the order a caller lists them in does not matter.
 */
export function tokenCacheKey(connectorId: string, user: ConnectorUser, scopes: readonly string[]): string {
  return JSON.stringify([connectorId, user.sub, user.tenant, normalizeScopes(scopes)]);
}

/** Sorted, deduplicated, without empty entries. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.filter((scope) => scope !== ''))].sort();
}
