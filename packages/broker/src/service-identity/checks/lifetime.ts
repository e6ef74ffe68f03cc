import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import type { Decided } from './policy.ts';

/** What the lifetime step adds. */
export interface Lifetime {
  /** Seconds the issued token lives. */
  readonly lifetime: number;
}

/** The policy's lifetime within the broker's maximum, in whole seconds as the exchange issues them. */
export function serviceIdentityLifetime(maxLifetimeSeconds: number): Check<GrantRequest & Decided, Lifetime> {
  return ({ decision }) => ({
    lifetime: Math.floor(Math.min(decision.lifetimeSeconds, maxLifetimeSeconds)),
  });
}
