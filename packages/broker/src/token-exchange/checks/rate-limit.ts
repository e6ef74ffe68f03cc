import { tenantOf } from '@baton/core';
import { loggingFallbacks, type RateLimit, RateLimiter, type RateLimitStore } from '@baton/core/rate-limit';
import type { BrokerLogger } from '../../grants/audited-grant.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import { qualified, type Visitor, visitorTenant } from '../../jwt-bearer/visitor.ts';
import type { Subject } from './subject.ts';

/**
 * Declared limits on token exchanges (`BrokerOptions.rateLimits`): per exchanging client, and per
 * subject (the person, by tenant and `sub`). Over a limit the request is refused with HTTP 429,
 * `Retry-After` and `error: "slow_down"`, audited `rate_limited`.
 *
 * @example
 * rateLimits: { perClient: { points: 600, durationSeconds: 60 }, perSubject: { points: 60, durationSeconds: 60 },
 *   store: { redis, keyPrefix: 'baton:broker:rl' } }
 */
export interface ExchangeRateLimits {
  perClient?: RateLimit;
  perSubject?: RateLimit;
  /** Default `{ memory: true }` (one instance); Redis with a shared `keyPrefix` for several. */
  store?: RateLimitStore;
}

/** The per-client and per-subject limiters the token-requesting grants share. */
export type ExchangeRateLimiters = ReturnType<typeof exchangeRateLimiters>;

/**
 * The exchange limiters, built once when the broker starts (a bad limit is a `TypeError` then) and
 * shared by the grants that act for a subject (token exchange, jwt-bearer): one budget per client and
 * per person, whichever grant spends it.
 */
export function exchangeRateLimiters(limits: ExchangeRateLimits, logger?: BrokerLogger) {
  // A Redis outage falls back to this instance's count, logged with the error's name only.
  const store = loggingFallbacks(limits.store ?? { memory: true }, logger);
  return {
    perClient: limits.perClient ? new RateLimiter('client', limits.perClient, store) : undefined,
    perSubject: limits.perSubject ? new RateLimiter('subject', limits.perSubject, store) : undefined,
  };
}

/**
 * Check: the authenticated client is within its exchange limit. Runs before the subject token is
 * verified, so a client flooding the broker spends its own budget before any signature check.
 */
export function clientRateLimit(limiter: RateLimiter | undefined): Check<GrantRequest, object> {
  return async ({ clientId }) => {
    const over = await limiter?.consume(keyOf(clientId));
    if (over) throw refuse.slowDown(over.retryAfterSeconds, tooMany(over.retryAfterSeconds), 'per client');
    return {};
  };
}

/**
 * Check: the subject (the person behind the subject token) is within its exchange limit. Runs after
 * the subject token is verified: a forged token cannot spend somebody else's budget.
 */
export function subjectRateLimit(
  limiter: RateLimiter | undefined,
): Check<GrantRequest & Subject & { readonly visitor?: Visitor }, object> {
  return async ({ subject, visitor }) => {
    // The person by tenant and `sub`, as the MCP boundary keys it: the same budget whether the subject
    // token is the identity provider's or one this broker issued from it. A visitor from another trust
    // domain by its names here (qualified), so a home broker cannot spend a local person's budget.
    const tenant = tenantOf(subject.claims);
    const sub = subject.claims.subject;
    const over = await limiter?.consume(
      visitor
        ? keyOf(visitorTenant(visitor, tenant) ?? '', qualified(visitor, sub))
        : keyOf(tenant ?? '', sub),
    );
    if (over) throw refuse.slowDown(over.retryAfterSeconds, tooMany(over.retryAfterSeconds), 'per subject');
    return {};
  };
}

function tooMany(retryAfterSeconds: number): string {
  return `too many token requests; retry after ${retryAfterSeconds} seconds`;
}

/** Length-prefixed parts: no issuer or subject can be chosen to collide with another's key. */
function keyOf(...parts: string[]): string {
  return parts.map((part) => `${part.length}:${part}`).join('|');
}
