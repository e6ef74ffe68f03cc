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
  return ({ decision, subject, now }) => ({
    lifetime: boundedLifetime(
      decision.lifetimeSeconds,
      maxLifetimeSeconds,
      subject.claims.expiresAt - now,
      'subject_token expires too soon to derive a token',
    ),
  });
}

/**
 * The policy's lifetime capped by the broker's maximum and the seconds the subject has left, in whole
 * seconds rounded down; refuses (`subject_expiring`, with `message`) when nothing is left. Shared by
 * exchange and Txn-Token replacement so both bound a token the same way.
 */
export function boundedLifetime(
  decisionSeconds: number,
  maxLifetimeSeconds: number,
  secondsLeft: number,
  message: string,
): number {
  const lifetime = Math.floor(Math.min(decisionSeconds, maxLifetimeSeconds, secondsLeft));
  if (lifetime <= 0) throw refuse.request('subject_expiring', message);
  return lifetime;
}
