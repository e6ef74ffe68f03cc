import { type Identity, identityFromClaims } from '@baton/core';
import { type DelegationMode, type EnvelopeBody, EnvelopeSchema } from '@baton/envelope';
import type { AccessTokenClaims, CallerKind } from '@baton/resource-server';

export interface DelegationPolicy {
  /** How tools on this server reach downstream services. Default `service_identity`. */
  mode: DelegationMode;
  /** Downstream services tools may call (identifiers or base URLs). Default: none. */
  allowed: readonly string[];
}

/**
 * The envelope body for an identity the boundary derived (`@baton/core`'s `identityFromClaims`, once
 * per request): actor, tenant, agent, session and chain as derived there; the delegation mode and
 * allowed audiences are this server's policy, not the token's; the trace id is the call's.
 *
 * - confidence: `medium` for a bearer token verified here; `high`, with `binding`, for a
 *   sender-constrained token whose binding this boundary verified (a DPoP proof by the `cnf.jkt` key,
 *   or the TLS client certificate of `cnf["x5t#S256"]`). A bearer envelope has no `binding` member.
 */
export function envelopeBodyFromIdentity(
  identity: Identity,
  context: { traceId: string; delegation: DelegationPolicy; binding?: 'dpop' | 'mtls' | undefined },
): EnvelopeBody {
  return {
    actor: { type: identity.actor.type, sub: identity.actor.sub, tenant: identity.actor.tenant },
    agent: { type: 'ai_agent', id: identity.agent, client_id: identity.agent },
    session: { id: identity.session, trace_id: context.traceId },
    authorization: context.binding
      ? { scopes: [...identity.scopes], confidence: 'high', binding: context.binding }
      : { scopes: [...identity.scopes], confidence: 'medium' },
    delegation: {
      mode: context.delegation.mode,
      allowed: [...context.delegation.allowed],
      chain: [...identity.delegation.services],
    },
  };
}

/**
 * Derives the envelope body from validated token claims only, through `@baton/core`'s
 * `identityFromClaims` (see there for the tenant, session, agent and chain rules). Nothing here reads
 * the request body, tool input or model output. Throws `TypeError` on a malformed `act`.
 *
 * @example
 * const body = envelopeBodyFromClaims(claims, { traceId, delegation: { mode: 'service_identity', allowed: [] } });
 */
export function envelopeBodyFromClaims(
  claims: AccessTokenClaims,
  context: { traceId: string; delegation: DelegationPolicy; actorType?: CallerKind },
): EnvelopeBody {
  const identity = identityFromClaims(claims, context.actorType ? { actorType: context.actorType } : {});
  return envelopeBodyFromIdentity(identity, context);
}

/**
 * Whether a delegation policy can appear in an envelope (known mode; unique, bounded service
 * identifiers), checked with the envelope's own schema. A policy that cannot would make every token
 * look invalid, so the boundary refuses it at construction instead.
 */
export function delegationPolicyFormsEnvelope(delegation: DelegationPolicy): boolean {
  return EnvelopeSchema.shape.delegation.safeParse({
    mode: delegation.mode,
    allowed: [...delegation.allowed],
    chain: [],
  }).success;
}
