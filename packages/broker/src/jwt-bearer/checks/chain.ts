import { continueTrace } from '@baton/audit';
import { type ActClaim, actorsOf, parseAct, withActor } from '@baton/resource-server';
import type { RequestTrace } from '../../grants/audited-grant.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { DelegationChain } from '../../token-exchange/checks/chain.ts';
import type { ExchangeMode } from '../../token-exchange/checks/mode.ts';
import type { Assertion } from './assertion.ts';

/** What the chain check adds: the chain, the mode, and the trace the audit event is filed under. */
export type AssertionChain = DelegationChain & ExchangeMode & { readonly trace: RequestTrace };

/**
 * Check: the delegation chain of the token to issue, always `on_behalf_of`.
 *
 * - An ID-JAG: the client acts for the person the identity provider asserted; it starts the chain
 *   (`act: { sub: <client> }`), so the MCP server it calls can exchange the token onward.
 * - A home broker's grant: the chain it carries (`act`), the redeeming client outermost (it must be the
 *   client the grant was issued to), every actor before it marked with the home broker as its issuer
 *   (they are clients of that domain, not of this one). The audit event joins the home trace the grant
 *   carries (`baton_trace`, signed by a broker this one trusts), so one trace crosses the two domains.
 */
export const assertionChain: Check<GrantRequest & Assertion, AssertionChain> = ({
  subject,
  kind,
  clientId,
  trace,
}) => {
  const { claims } = subject;
  let act: ActClaim;
  let joined = trace;
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
    act = withActor({ sub: clientId }, carried.act && fromDomain(carried.act, claims.issuer));
    const home = continueTrace(claims.claims.baton_trace, true);
    if (home.parentSpanId !== undefined) {
      joined = { traceId: home.traceId, spanId: trace.spanId, parentSpanId: home.parentSpanId };
    }
  }
  let actors: ActClaim[];
  try {
    actors = actorsOf(act);
  } catch {
    throw refuse.request('depth_exceeded', 'the delegation chain would be longer than an envelope can carry');
  }
  return {
    act,
    agent: actors.at(-1)!.sub,
    chain: actors.slice(0, -1).map((actor) => actor.sub),
    actors: actors.map((actor) => actor.sub),
    mode: 'on_behalf_of',
    tokenKind: 'access_token',
    trace: joined,
  };
};

/** The chain with each actor that names no issuer marked as the home domain's. */
function fromDomain(act: ActClaim, issuer: string): ActClaim {
  return withActor({ sub: act.sub, iss: act.iss ?? issuer }, act.act && fromDomain(act.act, issuer));
}
