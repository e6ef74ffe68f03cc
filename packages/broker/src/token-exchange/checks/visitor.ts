import { actorsOf } from '@baton/resource-server';
import type { Check } from '../../grants/checks.ts';
import { namesOf, visitingHome } from '../../jwt-bearer/visitor.ts';
import type { DelegationChain } from './chain.ts';
import type { RedeemedGrant } from './policy.ts';
import type { Principal } from './principal.ts';
import type { Subject } from './subject.ts';

/**
 * Check: a visitor from another trust domain stays one on every hop after the one that redeemed its
 * home broker's grant. When the subject (its `sub`, tenant or `sid`, or the issued token's principal)
 * is named as this broker names a visitor, or an actor of the chain is marked with a home issuer, the
 * policy is told `grant = identity_chaining` and `assertion_issuer = <home>`, as on the first hop: only
 * rules that admit visitors admit it, so a rule written for this domain's own people never lets a
 * visitor's token be exchanged onward or turned into a Txn-Token. Refuses nothing itself.
 */
export function visitingHop(
  homes: readonly string[],
): Check<Subject & DelegationChain & Principal, RedeemedGrant> {
  return ({ subject, act, sub, tenant }) => {
    const home = visitingHome(homes, [sub, tenant, ...namesOf(subject.claims)], actorsOf(act));
    return home ? { grant: 'identity_chaining', assertionIssuer: home } : {};
  };
}
