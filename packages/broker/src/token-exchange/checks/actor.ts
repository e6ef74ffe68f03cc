import { ACCEPTED_INPUT_TOKEN_TYPES } from '@baton/broker-client';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import type { InputTokenVerifier } from '../input-token.ts';
import { refuseRevoked } from './revoked.ts';
import { verifyInput } from './verify-input.ts';

/**
 * Check: the acting party is the authenticated client. An `actor_token` (RFC 8693 §2.1), when sent
 * with its type, is verified like a subject token and must name this client (`sub` or `client_id`),
 * and is refused when a revocation covers it, as a subject token would be (`refuseRevoked`).
 */
export function actingParty(
  inputs: InputTokenVerifier,
  registry: TokenRegistry,
): Check<GrantRequest, object> {
  return async ({ params, clientId, now }) => {
    const actorToken = single(params.actor_token);
    const actorTokenType = single(params.actor_token_type);
    if (Boolean(actorToken) !== Boolean(actorTokenType)) {
      throw refuse.request('parameters_missing', 'actor_token and actor_token_type go together');
    }
    if (actorToken) {
      if (!ACCEPTED_INPUT_TOKEN_TYPES.has(actorTokenType!)) {
        throw refuse.request('actor_token_type_unsupported', 'actor_token_type must be an access token type');
      }
      const actor = await verifyInput(inputs, actorToken, 'actor');
      if (actor.claims.subject !== clientId && actor.claims.clientId !== clientId) {
        throw refuse.request('actor_mismatch', 'actor_token does not identify the authenticated client');
      }
      await refuseRevoked(registry, actor, actorToken, 'actor', now, [actor.claims.subject]);
    }
    return {};
  };
}
