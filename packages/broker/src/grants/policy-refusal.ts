import type { AudienceConfig } from '../audience.ts';
import type { ExchangeFacts, PolicyDecision, PolicyEngine } from '../policy/facts.ts';
import { type Refusal, refuse } from './refusal.ts';

/**
 * Asks the declared policy, and refuses as both grants must: a denial by its structured kind, and an
 * allow that grants none of the scopes asked for (possible with a custom `PolicyEngine`) as
 * `invalid_scope` rather than a scopeless token. Returns the decision when it stands.
 */
export function decideOrRefuse(
  policy: PolicyEngine,
  facts: ExchangeFacts,
  audience: AudienceConfig,
): PolicyDecision {
  const decision = policy.decide(facts);
  if (!decision.allowed) throw policyRefusal(policy, facts, audience, decision);
  if (facts.scopes.length > 0 && decision.grantedScopes.length === 0) {
    throw refuse.scope(
      'scope_not_permitted',
      'the declared policy permits none of the requested scopes',
      facts.scopes.join(' '),
    );
  }
  return decision;
}

/**
 * The refusal for a policy denial, classified on the decision's structured kind, never on its reasons:
 * those quote operator-chosen rule ids and client ids, which may contain any words, and stay private.
 */
export function policyRefusal(
  policy: PolicyEngine,
  facts: ExchangeFacts,
  audience: AudienceConfig,
  decision: PolicyDecision,
): Refusal {
  const because = decision.reasons.join('; ');
  switch (decision.refusal) {
    case 'depth_exceeded':
      return refuse.request(
        'depth_exceeded',
        'the delegation chain is longer than the declared policy allows',
        because,
      );
    case 'visitor_not_admitted':
      return refuse.target(
        'visitor_not_admitted',
        'the declared policy does not admit grants from another trust domain here',
        because,
      );
    case 'person_less_subject':
      return refuse.request(
        'subject_not_a_person',
        'subject_token has no person behind it, and the declared policy does not allow acting for a service here',
        because,
      );
  }
  if (
    decision.refusal === 'not_permitted' &&
    facts.scopes.length > 0 &&
    permitsOtherScopes(policy, facts, audience)
  ) {
    return refuse.scope(
      'scope_not_permitted',
      'the declared policy permits none of the requested scopes',
      facts.scopes.join(' '),
      because,
    );
  }
  if (facts.mode === 'restricted_user') {
    return refuse.request(
      'impersonation_not_allowed',
      'the declared policy does not allow a restricted user token here',
      because,
    );
  }
  return refuse.target('policy_denied', 'the declared policy does not allow this token', because);
}

/**
 * Whether the policy would let this client have this audience, in this mode, with some scope other
 * than the ones it asked for: then the refusal is about the scopes (invalid_scope), not the target.
 */
function permitsOtherScopes(policy: PolicyEngine, facts: ExchangeFacts, audience: AudienceConfig): boolean {
  const others = audience.scopes.filter((scope) => !facts.scopes.includes(scope));
  if (others.length === 0) return false;
  const probe = policy.decide({ ...facts, scopes: others });
  return probe.allowed || probe.refusal === 'depth_exceeded';
}
