import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Decided } from './policy.ts';
import type { Subject } from './subject.ts';

/** What the lifetime check adds. */
export interface Lifetime {
  /** Seconds the issued token lives. */
  readonly lifetime: number;
}

/**
 * Check: the policy's lifetime, never beyond the broker's maximum nor the subject token's expiry.
 * Whole seconds, rounded down (an `exp` may carry a fraction), so no token outlives its subject and
 * every issuer accepts it; a subject expiring within the second is refused.
 */
export function exchangeLifetime(
  maxLifetimeSeconds: number,
): Check<GrantRequest & Subject & Decided, Lifetime> {
  return ({ decision, subject, now }) => {
    const lifetime = Math.floor(
      Math.min(decision.lifetimeSeconds, maxLifetimeSeconds, subject.claims.expiresAt - now),
    );
    if (lifetime <= 0)
      throw refuse.request('subject_expiring', 'subject_token expires too soon to derive a token');
    return { lifetime };
  };
}
