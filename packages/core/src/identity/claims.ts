/**
 * The validated claims identity is derived from: what a verifier (JWT, RFC 9068, or introspection,
 * RFC 7662) returns once the signature, issuer, audience and lifetime have been checked. Nothing here
 * is checked again; `@baton/resource-server`'s `AccessTokenClaims` is one.
 */
export interface ValidatedClaims {
  /** `iss`. */
  issuer: string;
  /** `sub`: the person, or the client itself for a machine's own token. */
  subject: string;
  /** `client_id`: the client the token was issued to (for a token the broker exchanged, the last service). */
  clientId: string;
  scopes: readonly string[];
  /** `exp`, seconds since the epoch. */
  expiresAt: number;
  /** `iat`, when present. */
  issuedAt?: number;
  /** `jti`, when present. */
  tokenId?: string;
  /** Every claim as issued; `tenant`, `tid`, `sid` and `act` are read from here. */
  claims: Readonly<Record<string, unknown>>;
}
