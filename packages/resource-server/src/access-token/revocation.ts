import { BearerError, invalidToken } from '../errors.ts';
import type { AccessTokenClaims } from './claims.ts';

/** Why a revocation list refuses a token it holds an entry for. */
export type RevokedReason = 'token_revoked' | 'subject_revoked' | 'session_revoked' | 'client_revoked';

/**
 * What a revocation list answers for a token's claims: nothing (admit), the revocation that covers it,
 * or that it cannot say (its feed is stale, or it is full) and what to do then.
 */
export type RevocationVerdict =
  | { reason: RevokedReason }
  | { reason: 'revocation_list_full' }
  | { reason: 'revocation_feed_stale'; fallback: 'refuse' | 'introspect' };

/**
 * A receiver's revocation set, as resource servers consume it: `@baton/shared-signals`'
 * `RevocationFeed` (or a bare `RevocationList`) has this shape. `check` runs on every request, after the
 * token's signature and claims were verified (a cached verification included), so it must be
 * synchronous and cheap; `introspect` is asked only when the feed is stale and configured to fall
 * back to the authorization server (RFC 7662).
 */
export interface RevocationCheck {
  check(claims: Readonly<Record<string, unknown>>): RevocationVerdict | undefined;
  introspect?(token: string): Promise<boolean>;
}

const REVOKED: ReadonlySet<string> = new Set<RevokedReason>([
  'token_revoked',
  'subject_revoked',
  'session_revoked',
  'client_revoked',
]);

/**
 * The refusal for a verified token a revocation covers, or `undefined` to admit it. A revoked token is
 * 401 `invalid_token` (RFC 6750 §3.1 names revocation); a status that cannot be established fails closed
 * with 503 `temporarily_unavailable` (the token may be fine: the caller retries, nothing is cached),
 * unless the feed falls back to introspection and the authorization server vouches for the token.
 */
export async function revocationRefusal(
  revocations: RevocationCheck,
  claims: AccessTokenClaims,
  token: string,
): Promise<BearerError | undefined> {
  const verdict = revocations.check(claims.claims);
  if (verdict === undefined) return undefined;
  if (REVOKED.has(verdict.reason)) {
    return invalidToken(verdict.reason as RevokedReason, 'the access token has been revoked');
  }
  if (
    verdict.reason === 'revocation_feed_stale' &&
    verdict.fallback === 'introspect' &&
    revocations.introspect
  ) {
    let active: boolean;
    try {
      active = await revocations.introspect(token);
    } catch (error) {
      return revocationStatusUnknown(error);
    }
    return active ? undefined : invalidToken('token_revoked', 'the access token has been revoked');
  }
  return revocationStatusUnknown(undefined);
}

function revocationStatusUnknown(cause: unknown): BearerError {
  return new BearerError(
    {
      error: 'temporarily_unavailable',
      status: 503,
      reason: 'revocation_status_unknown',
      description: 'whether the token was revoked could not be established right now; try again later',
    },
    { cause },
  );
}

/** Whether a refusal is a revocation's (what resource servers audit as well as log). */
export function isRevocationRefusal(error: unknown): error is BearerError {
  return (
    error instanceof BearerError &&
    (REVOKED.has(error.reason) || error.reason === 'revocation_status_unknown')
  );
}
