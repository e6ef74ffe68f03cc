import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';

/**
 * Check: the client asking for its own token is not revoked (as a client, or disabled as the subject
 * its service tokens carry): a compromised service gets no new token until the operator lifts it.
 */
export function serviceNotRevoked(registry: TokenRegistry): Check<GrantRequest, object> {
  return async ({ clientId, now }) => {
    // As of now: a subject revoked `before` an instant in the past does not stop its new tokens.
    const reason = await registry.refusalOf({ clients: [clientId], subject: clientId, issuedAt: now });
    if (reason) throw refuse.grant(reason, 'this client may not be issued tokens (it is revoked)');
    return {};
  };
}
