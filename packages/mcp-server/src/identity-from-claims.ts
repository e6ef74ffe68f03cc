import { type DelegationMode, type EnvelopeBody, EnvelopeSchema } from '@baton/envelope';
import {
  type AccessTokenClaims,
  type CallerKind,
  defaultCallerKind,
  delegationOf,
} from '@baton/resource-server';

export interface DelegationPolicy {
  /** How tools on this server reach downstream services. Default `service_identity`. */
  mode: DelegationMode;
  /** Downstream services tools may call (identifiers or base URLs). Default: none. */
  allowed: readonly string[];
}

/**
 * Derives the envelope body from validated token claims only. Nothing here reads the request body,
 * tool input or model output: identity comes from what the authorization server signed or vouched for.
 *
 * - actor: `sub`; its type as the boundary classified the caller (`actorType`), by default `service`
 *   when the token is the client's own (client credentials: `sub` = `client_id`, RFC 9068 §2.2)
 * - tenant: the `tenant` claim (or `tid`, as Entra issues it), else null
 * - agent: the client the token was issued to (`client_id`), kept apart from the actor; for a token
 *   the broker exchanged, the innermost actor of `act`, with the services in between in `delegation.chain`
 * - session: the IdP session (`sid`) when present, else the token id, so calls on one grant correlate
 */
export function envelopeBodyFromClaims(
  claims: AccessTokenClaims,
  context: { traceId: string; delegation: DelegationPolicy; actorType?: CallerKind },
): EnvelopeBody {
  const raw = claims.claims;
  const tenant = typeof raw.tenant === 'string' ? raw.tenant : typeof raw.tid === 'string' ? raw.tid : null;
  // A token the broker exchanged names the agent innermost in `act` and the services in between.
  const { agent, services } = delegationOf(claims);
  const sessionId =
    typeof raw.sid === 'string' && raw.sid !== ''
      ? raw.sid
      : (claims.tokenId ?? `${claims.clientId}:${claims.subject}:${claims.issuedAt ?? claims.expiresAt}`);
  return {
    actor: { type: context.actorType ?? defaultCallerKind(claims), sub: claims.subject, tenant },
    agent: { type: 'ai_agent', id: agent, client_id: agent },
    session: { id: sessionId, trace_id: context.traceId },
    authorization: {
      scopes: [...claims.scopes],
      // A bearer token verified here. `high` is reserved for sender-constrained tokens (DPoP/mTLS),
      // which the boundary refuses until it verifies their proof of possession.
      confidence: 'medium',
    },
    delegation: { mode: context.delegation.mode, allowed: [...context.delegation.allowed], chain: services },
  };
}

/** Any valid W3C trace-id: the real one is chosen per tool call and is always valid. */
const PLACEHOLDER_TRACE_ID = '00000000000000000000000000000001';

/**
 * Whether validated token claims can form an envelope under `delegation`: the envelope body they
 * derive to, checked with the envelope's own schema (its limits on identifiers, scope tokens and
 * chain depth), with placeholders for what is chosen at mint time. The boundary refuses a token that
 * fails here, rather than accept it and fail every tool call on it. Throws nothing.
 */
export function claimsFormEnvelope(claims: AccessTokenClaims, delegation: DelegationPolicy): boolean {
  let body: EnvelopeBody;
  try {
    body = envelopeBodyFromClaims(claims, { traceId: PLACEHOLDER_TRACE_ID, delegation });
  } catch {
    return false;
  }
  return EnvelopeSchema.safeParse({
    id: 'pending',
    issuer: 'pending',
    trust_domain: 'pending',
    issued_at: 0,
    expires_at: 1,
    ...body,
  }).success;
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
