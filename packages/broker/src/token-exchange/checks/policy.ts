import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { decideOrRefuse } from '../../grants/policy-refusal.ts';
import type { Target } from '../../grants/target.ts';
import { type GrantKind, type PolicyDecision, type PolicyEngine, policyModeOf } from '../../policy/facts.ts';
import type { DelegationChain } from './chain.ts';
import type { ExchangeMode } from './mode.ts';
import type { Principal } from './principal.ts';
import type { UnderstoodScopes } from './scope.ts';

/** What the policy check adds. */
export interface Decided {
  readonly decision: PolicyDecision;
  /** The scopes the issued token carries. */
  readonly granted: readonly string[];
}

/**
 * What a grant that redeems an assertion adds for the policy (RFC 7523: an ID-JAG, a home broker's
 * grant): which grant it is and who issued the assertion. A token exchange has neither.
 */
export interface RedeemedGrant {
  readonly grant?: GrantKind;
  readonly assertionIssuer?: string;
}

/** Check: the declared policy, asked with every verified fact of the exchange. */
export function exchangePolicy(
  policy: PolicyEngine,
): Check<
  GrantRequest & Target & ExchangeMode & DelegationChain & Principal & UnderstoodScopes & RedeemedGrant,
  Decided
> {
  return ({
    clientId,
    sub,
    tenant,
    subjectType,
    agent,
    audience,
    mode,
    tokenKind,
    chain,
    understood,
    grant,
    assertionIssuer,
  }) => {
    const decision = decideOrRefuse(
      policy,
      {
        client: clientId,
        subject: { sub, tenant },
        subjectType,
        agent,
        audience: audience.resource,
        // What engines have always been given: `txn_token` for a Transaction Token, never the
        // `service_identity` of a service's own token.
        mode: policyModeOf({ mode, tokenKind }),
        tokenKind,
        depth: chain.length,
        chain,
        scopes: understood,
        ...(grant ? { grant } : {}),
        ...(assertionIssuer ? { assertionIssuer } : {}),
      },
      audience,
    );
    return { decision, granted: decision.grantedScopes };
  };
}
