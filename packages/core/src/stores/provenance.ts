/**
 * Who a cached token stands for, in the terms a revocation names (`@baton/shared-signals`'
 * `Revocation`): the person, the identity-provider session, the tokens it was derived from and every
 * client in its chain. A cache keeps it beside each token, so that a revocation can find the tokens it
 * covers even when the cache key does not name them (a key per person and agent, shared by sessions).
 *
 * @example
 * const provenance = { subject: 'bob', session: 'sid-1', tokenIds: ['jti-1'], clients: ['agent', 'mcp-server'], issuedAt: 1764400000 };
 */
export interface TokenProvenance {
  /** The person (`sub`) the token acts for. */
  readonly subject?: string;
  /** The identity-provider session (`sid`) of the token it was obtained with. */
  readonly session?: string;
  /** The `jti`s of the tokens it was derived from (the subject token; the token itself, when known). */
  readonly tokenIds?: readonly string[];
  /** Every client in its chain: the agent (`client_id`, `azp`), each actor of `act`, and whoever obtained it. */
  readonly clients?: readonly string[];
  /** When the token it was derived from was issued (`iat`), Unix seconds. */
  readonly issuedAt?: number;
}

/** Whether a token of this provenance is revoked now. */
export type RevocationTest = (provenance: TokenProvenance) => boolean;

/**
 * A cache that drops what revocations cover. `followRevocations(list, cache)` from
 * `@baton/shared-signals` drives it: it calls `dropRevoked` once at once, then again after every
 * revocation added to the list, always with the same live `revoked` (a view of the list).
 */
export interface RevocationFollower {
  /**
   * Drops every entry whose provenance `revoked` covers (from memory and from any shared store) and,
   * where the cache can, treats an entry it covers as absent when read later (one another instance
   * stored). Rejects when an entry could not be dropped.
   */
  dropRevoked(revoked: RevocationTest): Promise<void>;
}

const MAX_LIST = 64;

/**
 * Reads a stored provenance back; anything malformed is `null` (the caller treats the entry as
 * unreadable), an absent one `undefined`.
 */
export function decodeProvenance(value: unknown): TokenProvenance | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { subject, session, tokenIds, clients, issuedAt } = value as Record<string, unknown>;
  const text = (v: unknown) => v === undefined || (typeof v === 'string' && v !== '');
  const texts = (v: unknown) =>
    v === undefined ||
    (Array.isArray(v) && v.length <= MAX_LIST && v.every((item) => typeof item === 'string' && item !== ''));
  if (!text(subject) || !text(session) || !texts(tokenIds) || !texts(clients)) return null;
  if (issuedAt !== undefined && (typeof issuedAt !== 'number' || !Number.isFinite(issuedAt))) return null;
  return {
    ...(subject === undefined ? {} : { subject: subject as string }),
    ...(session === undefined ? {} : { session: session as string }),
    ...(tokenIds === undefined ? {} : { tokenIds: tokenIds as string[] }),
    ...(clients === undefined ? {} : { clients: clients as string[] }),
    ...(issuedAt === undefined ? {} : { issuedAt: issuedAt as number }),
  };
}
