import { tenantOf } from '@baton/core';
import type { CallerKind, CallerKindRule } from '@baton/resource-server';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
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
 */
export function principal(
  callerKind: CallerKindRule,
): Check<GrantRequest & Subject & DelegationChain, Principal> {
  return ({ subject, agent }) => {
    const subjectType = callerKind({ ...subject.claims, clientId: agent });
    return {
      subjectType,
      sub: subjectType === 'service' ? agent : subject.claims.subject,
      tenant: tenantOf(subject.claims),
    };
  };
}
