import { tenantOf } from '@baton/core';
import type { CallerKind, CallerKindRule } from '@baton/resource-server';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { qualified, type Visitor, visitorTenant } from '../../jwt-bearer/visitor.ts';
import type { DelegationChain } from './chain.ts';
import type { Subject } from './subject.ts';

/** What the principal step adds: who the issued token acts for. */
export interface Principal {
  /** Whether a person stands behind the subject. */
  readonly subjectType: CallerKind;
  /** The issued token's `sub`. */
  readonly sub: string;
  readonly tenant: string | null;
}

/**
 * Whether a person stands behind the subject: one rule for every hop, asked of the client the chain
 * started from (the agent), so a person-less token stays person-less however far it goes. The issued
 * token then names the machine by that client id (RFC 9068 §2.2), whatever `sub` its identity provider
 * used, so the next hop reaches the same answer. Refuses nothing: policy decides what a machine may do.
 *
 * A visitor from another trust domain (a home broker's grant) is told apart as its home did, then named
 * as this domain names it: `sub` and `tenant` qualified by the home issuer (see `visitor.ts`).
 */
export function principal(
  callerKind: CallerKindRule,
): Check<GrantRequest & Subject & DelegationChain & { readonly visitor?: Visitor }, Principal> {
  return ({ subject, agent, visitor }) => {
    const tenant = tenantOf(subject.claims);
    if (!visitor) {
      const subjectType = callerKind({ ...subject.claims, clientId: agent });
      return { subjectType, sub: subjectType === 'service' ? agent : subject.claims.subject, tenant };
    }
    // Asked in the home domain's terms (the grant's own `sub` and `act`), then named in this one's:
    // the agent is already qualified, so a machine's `sub` stays its agent's at every later hop.
    const subjectType = callerKind(subject.claims);
    return {
      subjectType,
      sub: subjectType === 'service' ? agent : qualified(visitor, subject.claims.subject),
      tenant: visitorTenant(visitor, tenant),
    };
  };
}
