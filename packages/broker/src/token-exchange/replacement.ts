import type { EnvelopeIssuer } from '@baton/envelope';
import type { AudienceConfig } from '../audience.ts';
import { type AuditedGrantDependencies, auditedGrant, type Issued } from '../grants/audited-grant.ts';
import type { Check } from '../grants/checks.ts';
import { GrantChecks } from '../grants/checks.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import { decideOrRefuse } from '../grants/policy-refusal.ts';
import { visitingHome } from '../jwt-bearer/visitor.ts';
import type { PolicyDecision, PolicyEngine } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { refuseUnboundToBoundClient } from '../sender-constraint/check.ts';
import { boundedLifetime } from './checks/lifetime.ts';
import { clientRateLimit } from './checks/rate-limit.ts';
import {
  type ReplacedToken,
  type Replacement,
  type ReplacementParameters,
  replacedToken,
  replacementNarrowing,
  replacementParameters,
} from './checks/replaced.ts';
import { txnTokenResponse } from './response.ts';

export interface TxnTokenReplacementDependencies extends AuditedGrantDependencies {
  envelopes: EnvelopeIssuer;
  registry: TokenRegistry;
  policy: PolicyEngine;
  audiences: readonly AudienceConfig[];
  maxLifetimeSeconds: number;
  /** The home domains' issuers: a visitor's transaction is gated as a visitor's (see `visitingHop`). */
  homes: readonly string[];
  /** The token-exchange grant's per-client limiter: a replacement spends the same budget. */
  perClient: Parameters<typeof clientRateLimit>[0];
}

type Replacing = GrantRequest & ReplacementParameters & ReplacedToken & Replacement;

/**
 * Replacement Txn-Tokens (draft-ietf-oauth-transaction-tokens-10 §12): token exchange with a Txn-Token
 * this broker issued as the `subject_token` (`subject_token_type` = the Txn-Token type). The checks
 * narrow, the policy decides as for any Txn-Token (mode `txn_token`, the replacing client as the
 * principal), and the replacement keeps `txn`, `sub`, `aud`, the agent and the session; its `req_wl` is
 * the replacing client, and the workload that asked for the replaced token joins `tctx.chain`, so the
 * call chain of requesters is kept. It lives no longer than the token it replaces (so replacing cannot
 * extend a transaction, and no replacement count is needed), and it is recorded in the registry as the
 * replaced token's child: revoking the replaced token, its root grant, its subject or its session
 * covers it. Only a client the replaced token was issued to or for may replace it (`replacedToken`).
 */
export function txnTokenReplacementHandler(deps: TxnTokenReplacementDependencies) {
  const checks = GrantChecks.start<GrantRequest>()
    .check(clientRateLimit(deps.perClient))
    // A Txn-Token is never bound: a client registered for bound tokens gets none, replacements included.
    .check(({ client }) => {
      refuseUnboundToBoundClient(client);
      return {};
    })
    .check(replacementParameters(deps.envelopes.trustDomain))
    .check(replacedToken(deps.envelopes, deps.registry))
    .check(replacementNarrowing(deps.audiences))
    .check(replacementPolicy(deps.policy, deps.homes))
    .check(replacementLifetime(deps.maxLifetimeSeconds));

  return auditedGrant(deps, {
    checks,
    issue: (state) => issueReplacement(deps, state),
    describe: (known) => ({
      initiator: {
        sub: known.replaced?.actor.sub ?? '(unverified)',
        tenant: known.replaced?.actor.tenant ?? null,
      },
      agent: known.replaced?.agent.client_id ?? '(unknown)',
      audience: known.audience?.resource,
      mode: 'txn_token',
      chain: known.replaced ? [known.clientId, ...chainOf(known.replaced)] : [known.clientId],
      requested: known.requested,
    }),
  });
}

/** The replaced token's requester, then the chain it carried: the call chain of requesting workloads. */
function chainOf(replaced: ReplacedToken['replaced']): string[] {
  return [replaced.requesting_workload, ...replaced.delegation.chain];
}

/** What the replacement's policy check adds: the decision, and the scopes it grants (never more than asked). */
interface ReplacementDecision {
  readonly decision: PolicyDecision;
  readonly granted: readonly string[];
}

function replacementPolicy(
  policy: PolicyEngine,
  homes: readonly string[],
): Check<Replacing, ReplacementDecision> {
  return ({ clientId, replaced, audience, requested }) => {
    const chain = chainOf(replaced);
    // A visitor's transaction stays a visitor's: its subject, tenant and agent carry its home's names.
    const home = visitingHome(homes, [replaced.actor.sub, replaced.actor.tenant, replaced.agent.client_id]);
    const decision = decideOrRefuse(
      policy,
      {
        client: clientId,
        subject: { sub: replaced.actor.sub, tenant: replaced.actor.tenant },
        subjectType: replaced.actor.type,
        agent: replaced.agent.client_id,
        audience: audience.resource,
        mode: 'txn_token',
        tokenKind: 'txn_token',
        depth: chain.length,
        chain,
        scopes: requested.filter((scope) => audience.scopes.includes(scope)),
        ...(home ? { grant: 'identity_chaining' as const, assertionIssuer: home } : {}),
      },
      audience,
    );
    return { decision, granted: decision.grantedScopes };
  };
}

function replacementLifetime(
  maxLifetimeSeconds: number,
): Check<Replacing & ReplacementDecision, { lifetime: number }> {
  return ({ decision, replaced, now }) => ({
    lifetime: boundedLifetime(
      decision.lifetimeSeconds,
      maxLifetimeSeconds,
      replaced.expires_at - now,
      'subject_token expires too soon to replace it',
    ),
  });
}

async function issueReplacement(
  deps: TxnTokenReplacementDependencies,
  state: Replacing & ReplacementDecision & { lifetime: number },
): Promise<Issued> {
  const { replaced, granted, allowed, replacementContext, lifetime, clientId } = state;
  const { envelope, token } = deps.envelopes.mint(
    {
      actor: replaced.actor,
      agent: replaced.agent,
      // The same session and trace: `txn` never changes (draft-10 §12).
      session: replaced.session,
      // Only the scopes narrow: how the authority was established (confidence, binding) is the replaced token's.
      authorization: { ...replaced.authorization, scopes: [...granted] },
      delegation: { mode: replaced.delegation.mode, allowed: [...allowed], chain: chainOf(replaced) },
      ...(replacementContext.details ? { details: replacementContext.details } : {}),
      ...(replacementContext.requestContext ? { request_context: replacementContext.requestContext } : {}),
    } as Parameters<EnvelopeIssuer['mint']>[0],
    { ttlSeconds: lifetime, requestingWorkload: clientId },
  );
  await deps.registry.record({
    jti: envelope.id,
    parent: state.parent,
    root: state.root,
    subject: replaced.actor.sub,
    clientId,
    audience: state.audience.resource,
    exp: envelope.expires_at,
    issuedAt: envelope.issued_at,
    // The transaction's identity-provider session: revoking it stops the replacements too.
    ...(state.session === undefined ? {} : { session: state.session }),
  });
  return txnTokenResponse(token, envelope, granted);
}
