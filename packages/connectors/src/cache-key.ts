import type { ConnectorUser } from './connector.ts';

/**
 * The cache key of one user's token for one scope set at one connector. The parts are JSON-encoded
 * rather than joined, so no subject, tenant or scope containing a separator can make two users' keys
 * collide; scopes are sorted and deduplicated so that the order a caller lists them in does not matter.
 *
 * `platformIdentity` is who the token acts as on the platform, for connectors that choose it (JWT
 * bearer's identity mapping): when the mapping changes, the token issued for the previous identity
 * must no longer be served.
 */
export function tokenCacheKey(
  connectorId: string,
  user: ConnectorUser,
  scopes: readonly string[],
  platformIdentity?: string,
): string {
  const parts: unknown[] = [connectorId, user.sub, user.tenant, normalizeScopes(scopes)];
  if (platformIdentity !== undefined) parts.push(platformIdentity);
  return JSON.stringify(parts);
}

/** The user and scopes a `tokenCacheKey` names, or `undefined` for a key it did not make. */
export function tokenCacheKeyParts(
  key: string,
): { user: ConnectorUser; scopes: readonly string[] } | undefined {
  let parts: unknown;
  try {
    parts = JSON.parse(key);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts)) return undefined;
  const [, sub, tenant, scopes] = parts as unknown[];
  if (typeof sub !== 'string' || (tenant !== null && typeof tenant !== 'string')) return undefined;
  if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string')) return undefined;
  return { user: { sub, tenant }, scopes };
}

/** Sorted, deduplicated, without empty entries. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.filter((scope) => scope !== ''))].sort();
}
