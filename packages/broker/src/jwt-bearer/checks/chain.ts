import { continueTrace } from '@baton/audit';
import { type ActClaim, actorsOf, parseAct, withActor } from '@baton/resource-server';
import type { RequestTrace } from '../../grants/audited-grant.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { DelegationChain } from '../../token-exchange/checks/chain.ts';
import type { ExchangeMode } from '../../token-exchange/checks/mode.ts';
import { qualified, type Visitor } from '../visitor.ts';
import type { Assertion } from './assertion.ts';

/** What the chain check adds: the chain, the mode, and the trace the audit event is filed under (with its link). */
export type AssertionChain = DelegationChain & ExchangeMode & { readonly trace: RequestTrace };

/**
 * Check: the delegation chain of the token to issue, always `on_behalf_of`.
 *
 * - An ID-JAG: the client acts for the person the identity provider asserted; it starts the chain
 *   (`act: { sub: <client> }`), so the MCP server it calls can exchange the token onward.
 * - A home broker's grant: the chain it carries (`act`), the redeeming client outermost (it must be the
 *   client the grant was issued to) and at least one actor before it (the home agent), every actor
 *   before it a client of the home domain: named as this
 *   domain names a visitor's identifiers (`<home>|<client>`, see `visitor.ts`) and marked with the home
 *   broker as its issuer, whatever `iss` the grant gives it. A home broker thus cannot name one of this
 *   domain's clients as its agent, for this hop's policy or any later hop's. The audit event links to the home
 *   trace the grant carries (`baton_trace`) rather than joining it: a home broker could otherwise file
 *   its visitors' events into one of this domain's traces. The link still ties the two domains' events.
 */
export const assertionChain: Check<GrantRequest & Assertion, AssertionChain> = ({
  subject,
  kind,
  visitor,
  clientId,
  trace,
}) => {
  const { claims } = subject;
  let act: ActClaim;
  let linked = trace;
  if (kind === 'id_jag') {
    act = withActor({ sub: clientId }, undefined);
  } else {
    let carried: ActClaim | undefined;
    try {
      carried = parseAct(claims.claims.act);
    } catch {
      throw refuse.grant('act_malformed', 'assertion carries a malformed act claim');
    }
    if (!carried)
      throw refuse.grant('act_missing', 'a JWT authorization grant must carry its delegation chain');
    if (carried.sub !== clientId)
      throw refuse.grant('act_malformed', 'the outermost actor of the assertion is not its client');
    // A home broker's chain always names the home actor it started from (its agent); one with the
    // redeeming client alone would make this domain's own client the agent, and a person-less visitor
    // would be issued a token whose `sub` is that local client, unqualified.
    if (!carried.act)
      throw refuse.grant(
        'act_missing',
        'a JWT authorization grant must name the home actor its chain started from',
      );
    act = withActor({ sub: clientId }, visitor && fromDomain(carried.act, visitor));
    const { link } = continueTrace(claims.claims.baton_trace, false);
    if (link) linked = { ...trace, link };
  }
  let actors: ActClaim[];
  try {
    actors = actorsOf(act);
  } catch {
    // The grant's chain is what is too long: the grant is refused, not the request.
    throw refuse.grant('depth_exceeded', 'the delegation chain would be longer than an envelope can carry');
  }
  return {
    act,
    agent: actors.at(-1)!.sub,
    chain: actors.slice(0, -1).map((actor) => actor.sub),
    actors: actors.map((actor) => actor.sub),
    mode: 'on_behalf_of',
    tokenKind: 'access_token',
    trace: linked,
  };
};

/** The chain with every actor named and marked as the home domain's (an `iss` the grant gives is replaced). */
function fromDomain(act: ActClaim, visitor: Visitor): ActClaim {
  return withActor(
    { sub: qualified(visitor, act.sub), iss: visitor.home },
    act.act && fromDomain(act.act, visitor),
  );
}
