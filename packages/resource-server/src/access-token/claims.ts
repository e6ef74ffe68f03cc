/**
 * What a validated access token says, normalised across JWT (RFC 9068) and introspection (RFC 7662).
 * It never holds the token itself.
 */
export interface AccessTokenClaims {
  issuer: string;
  /** The resource owner (`sub`): the person, or the client itself for client-credentials tokens. */
  subject: string;
  /** The client the token was issued to (`client_id`): for MCP, the agent. */
  clientId: string;
  scopes: readonly string[];
  audience: readonly string[];
  expiresAt: number;
  issuedAt?: number;
  tokenId?: string;
  /** Additional claims as issued (`tenant`, `sid`, `act`, `cnf`, …), for envelope derivation. */
  claims: Readonly<Record<string, unknown>>;
}

/** Verifies one access token string; throws `BearerError` on any refusal. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<AccessTokenClaims>;
}

export function parseScope(scope: unknown): string[] {
  if (typeof scope !== 'string') return [];
  return [...new Set(scope.split(' ').filter((value) => value !== ''))];
}

export function audienceList(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((value): value is string => typeof value === 'string');
  return [];
}

/**
 * RFC 8707 audience comparison: exact string match after dropping a fragment and one trailing slash
 * (the same normalisation the MCP SDK uses), so `https://x/mcp` and `https://x/mcp/` are one resource
 * but `https://x/mcp2` is not.
 */
export function sameResource(a: string, b: string): boolean {
  return normalizeResource(a) === normalizeResource(b);
}

/**
 * Whether `list` names `resource` by the `sameResource` rule: the one way Baton checks a resource
 * against a list (an envelope's `delegation.allowed`, the broker's audiences).
 *
 * @example
 * includesResource(['https://x/api/'], 'https://x/api'); // true
 * includesResource(['https://x/API'], 'https://x/api'); // false: the path is case-sensitive
 */
export function includesResource(list: readonly string[], resource: string): boolean {
  return list.some((candidate) => sameResource(candidate, resource));
}

export function normalizeResource(value: string): string {
  const hash = value.indexOf('#');
  const withoutFragment = hash === -1 ? value : value.slice(0, hash);
  return withoutFragment.endsWith('/') ? withoutFragment.slice(0, -1) : withoutFragment;
}
