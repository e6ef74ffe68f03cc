/**
 * Scope matching at the MCP boundary, in one place: the 403 step-up challenge, the wrappers' backstop
 * and list filtering all ask here whether a token's scopes cover what a tool, resource or prompt
 * declares. Matching is exact (RFC 6749 §3.3 scopes are opaque strings); a scope hierarchy would be
 * taught here and nowhere else.
 */

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Whether `granted` covers every scope in `required`.
 *
 * @example
 * scopesCover(['orders:read', 'orders:write'], ['orders:read']); // true
 * scopesCover(['orders:read'], ['orders:read', 'orders:write']); // false
 */
export function scopesCover(granted: readonly string[], required: readonly string[]): boolean {
  return missingScopes(granted, required).length === 0;
}

/** The scopes in `required` that `granted` does not cover, in declared order. */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  return required.filter((scope) => !granted.includes(scope));
}

/**
 * The scopes a registration declares, checked: a list of RFC 6749 scope tokens (they go into the 403
 * challenge's `scope`, which RFC 6750 §3 limits to this). Throws `TypeError` naming the registration.
 */
export function declaredScopes(registration: string, scopes: unknown): string[] {
  if (!Array.isArray(scopes)) throw new TypeError(`${registration}: scopes must be declared`);
  const malformed = scopes.filter((scope) => typeof scope !== 'string' || !SCOPE_TOKEN.test(scope));
  if (malformed.length > 0)
    throw new TypeError(`${registration}: scopes must be RFC 6749 scope tokens: ${malformed.join(', ')}`);
  return [...scopes] as string[];
}
