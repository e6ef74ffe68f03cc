import { type ActClaim, actorsOf, type CallerKindRule, parseAct, withActor } from '@baton/resource-server';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { SenderConstrained } from '../../sender-constraint/check.ts';
import type { Subject } from './subject.ts';

/** What the chain check adds: the delegation chain of the token to issue. */
export interface DelegationChain {
  /** The issued token's `act`: this client outermost, the agent innermost. */
  readonly act: ActClaim;
  /** The client the chain started from (innermost actor). */
  readonly agent: string;
  /** The services between the agent and this client, outermost first: what policy's depth counts. */
  readonly chain: readonly string[];
  /** Every actor, outermost (this client) first, the agent last: the audit event's chain. */
  readonly actors: readonly string[];
}

/**
 * Check, chain depth: the chain is the agent innermost, then each service, this client outermost. A
 * broker-issued subject carries its chain in `act`, except a service-identity token, which starts one.
 * One more hop than any envelope can carry is refused whatever the declared policy's depth says (the
 * policy check refuses deeper chains than it allows).
 */
export function delegationChain(
  callerKind: CallerKindRule,
): Check<GrantRequest & SenderConstrained & Subject, DelegationChain> {
  return ({ clientId, workload, subject }) => {
    const { claims } = subject.claims;
    let previous: ActClaim | undefined;
    if (!subject.brokerIssued || (claims.act === undefined && callerKind(subject.claims) === 'service')) {
      previous = { sub: subject.claims.clientId, iss: subject.claims.issuer };
    } else {
      try {
        previous = parseAct(claims.act);
      } catch {
        throw refuse.request('act_malformed', 'subject_token carries a malformed act claim');
      }
    }
    if (!previous)
      throw refuse.request('act_missing', 'a broker-issued subject_token must carry its delegation chain');
    // This client's entry names its workload identity when a verified certificate established it.
    const act = withActor({ sub: clientId, ...(workload ? { spiffe_id: workload } : {}) }, previous);
    let actors: ActClaim[];
    try {
      actors = actorsOf(act);
    } catch {
      throw refuse.request(
        'depth_exceeded',
        'the delegation chain would be longer than an envelope can carry',
      );
    }
    return {
      act,
      agent: actors.at(-1)!.sub,
      chain: actors.slice(0, -1).map((actor) => actor.sub),
      actors: actors.map((actor) => actor.sub),
    };
  };
}
