import { tenantOf } from '@baton/core';
import type { CallerKindRule } from '@baton/resource-server';
import type { AudienceConfig } from '../audience.ts';
import { type AuditedGrantDependencies, auditedGrant } from '../grants/audited-grant.ts';
import { GrantChecks } from '../grants/checks.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import type { PolicyEngine } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { senderConstraint } from '../sender-constraint/check.ts';
import { exchangeLifetime } from '../token-exchange/checks/lifetime.ts';
import { exchangePolicy } from '../token-exchange/checks/policy.ts';
import { principal } from '../token-exchange/checks/principal.ts';
import {
  clientRateLimit,
  type ExchangeRateLimiters,
  subjectRateLimit,
} from '../token-exchange/checks/rate-limit.ts';
import { requestedScopes } from '../token-exchange/checks/scope.ts';
import { accessTokenIssuer } from '../token-exchange/issuers/access-token.ts';
import type { AssertionVerifier } from './assertion.ts';
import { type Assertion, assertionClient, assertionUsedOnce, verifiedAssertion } from './checks/assertion.ts';
import { assertionChain } from './checks/chain.ts';
import { assertionNotRevoked } from './checks/revoked.ts';
import { assertionScopeNarrowing } from './checks/scope.ts';
import { assertionTarget } from './checks/target.ts';
import { qualified, type Visitor, visitorTenant } from './visitor.ts';

/** RFC 7523 §2.1: using a JWT as an authorization grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Request parameters: the assertion, and the resource (RFC 8707) and scope asked for. */
export const JWT_BEARER_PARAMETERS = ['assertion', 'resource', 'audience', 'scope'];
/** Accepted so that more than one audience is refused as `invalid_target` by the grant, not as a duplicate. */
export const JWT_BEARER_DUPLICATES = ['resource', 'audience'];

export interface JwtBearerDependencies extends AuditedGrantDependencies {
  assertions: AssertionVerifier;
  audiences: readonly AudienceConfig[];
  policy: PolicyEngine;
  registry: TokenRegistry;
  callerKind: CallerKindRule;
  maxLifetimeSeconds: number;
  /** The token exchange's per-client and per-subject limiters: one budget, whichever grant spends it. */
  limiters?: ExchangeRateLimiters;
}

/**
 * The RFC 7523 jwt-bearer grant, registered on oidc-provider (which has authenticated the client and
 * checked that it may use this grant type): it redeems an ID-JAG from a trusted identity provider or
 * a JWT authorization grant from a trusted home broker for one of this broker's access tokens, under
 * the same declared policy, audit, registry and issuer as a token exchange. Its own checks are the
 * assertion's (`checks/`); those about the person, the policy and the lifetime are the exchange's,
 * reading the verified assertion where an exchange reads its subject token.
 */
export function jwtBearerHandler(deps: JwtBearerDependencies) {
  const checks = GrantChecks.start<GrantRequest>()
    // Before any signature is checked, as for an exchange: a flood spends the client's own budget.
    .check(clientRateLimit(deps.limiters?.perClient))
    .check(verifiedAssertion(deps.assertions))
    .check(assertionClient)
    // Bound like an exchanged token: a DPoP proof or a client certificate (RFC 9449, RFC 8705).
    .check(senderConstraint)
    // Before the `jti` is spent: a refused client keeps its grant for when it may ask again.
    .check(subjectRateLimit(deps.limiters?.perSubject))
    .check(assertionUsedOnce)
    .check(assertionNotRevoked(deps.registry))
    .check(assertionTarget(deps.audiences))
    .check(assertionChain)
    .check(principal(deps.callerKind))
    .check(requestedScopes)
    .check(assertionScopeNarrowing)
    .check(exchangePolicy(deps.policy))
    .check(exchangeLifetime(deps.maxLifetimeSeconds));

  const issueAccessToken = accessTokenIssuer(deps.registry);
  return auditedGrant(deps, {
    checks,
    // A visitor's session (`sid`) is the home domain's: the issued token names it as this domain does.
    issue: (state) => issueAccessToken(state.visitor ? visitingSession(state, state.visitor) : state),
    describe: (known) => ({
      // As the issued token names the person (a visitor's qualified), however far the request got.
      initiator: initiatorOf(known),
      agent: known.agent ?? known.clientId,
      audience: known.audience?.resource,
      mode: 'on_behalf_of',
      chain: known.actors ?? [known.clientId],
      requested: known.requested,
      workload: known.workload,
    }),
  });
}

/** The state with the subject's `sid` qualified by the visitor's home issuer. */
function visitingSession<T extends { subject: Assertion['subject'] }>(state: T, visitor: Visitor): T {
  const { sid } = state.subject.claims.claims;
  if (typeof sid !== 'string' || !sid) return state;
  const claims = {
    ...state.subject.claims,
    claims: { ...state.subject.claims.claims, sid: qualified(visitor, sid) },
  };
  return { ...state, subject: { ...state.subject, claims } };
}

/** Who the audit event names: the principal once known, else the assertion's subject (a visitor's qualified). */
function initiatorOf(known: {
  sub?: string;
  tenant?: string | null;
  subject?: Assertion['subject'];
  visitor?: Visitor;
}): { sub: string; tenant: string | null } {
  if (known.sub !== undefined) return { sub: known.sub, tenant: known.tenant ?? null };
  if (!known.subject) return { sub: '(unverified)', tenant: null };
  const { claims } = known.subject;
  if (!known.visitor) return { sub: claims.subject, tenant: tenantOf(claims) };
  return {
    sub: qualified(known.visitor, claims.subject),
    tenant: visitorTenant(known.visitor, tenantOf(claims)),
  };
}
