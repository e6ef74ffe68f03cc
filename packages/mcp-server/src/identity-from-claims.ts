import type { DelegationMode, EnvelopeBody } from '@baton/envelope';
import { type AccessTokenClaims, delegationOf } from '@baton/resource-server';

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
 * - actor: `sub`; `service` when the token is the client's own (client credentials: `sub` = `client_id`)
 * - tenant: the `tenant` claim (or `tid`, as Entra issues it), else null
 * - agent: the client the token was issued to (`client_id`), kept apart from the actor; for a token
 *   the broker exchanged, the innermost actor of `act`, with the services in between in `delegation.chain`
 * - session: the IdP session (`sid`) when present, else the token id, so calls on one grant correlate
 */
export function envelopeBodyFromClaims(
  claims: AccessTokenClaims,
  context: { traceId: string; delegation: DelegationPolicy },
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
    actor: { type: claims.subject === claims.clientId ? 'service' : 'user', sub: claims.subject, tenant },
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
