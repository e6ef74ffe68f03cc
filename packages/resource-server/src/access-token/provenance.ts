import { parseAct } from '@baton/core';
import type { TokenProvenance } from '@baton/core/stores';
import type { AccessTokenClaims } from './claims.ts';

const MAX_CLIENTS = 40;

/**
 * What a revocation can name of a validated access token (`@baton/core/stores`' `TokenProvenance`):
 * its person, its identity-provider session (`sid`), its `jti`, and every client of its chain
 * (`client_id`, `azp`, each actor of `act`). A cache of anything derived from the token keeps it, so
 * that `followRevocations` finds the entry when the person, session, token or a client is revoked.
 *
 * @example
 * const provenance = tokenProvenance(claims, { obtainedBy: 'orders-mcp' });
 */
export function tokenProvenance(
  claims: AccessTokenClaims,
  options: { obtainedBy?: string } = {},
): TokenProvenance {
  const sid = claims.claims.sid;
  const azp = claims.claims.azp;
  const clients = new Set<string>();
  if (options.obtainedBy) clients.add(options.obtainedBy);
  if (claims.clientId) clients.add(claims.clientId);
  if (typeof azp === 'string' && azp !== '') clients.add(azp);
  let act: ReturnType<typeof parseAct>;
  try {
    act = parseAct(claims.claims.act);
  } catch {
    // The verifier refused a malformed act already; nothing more to name.
  }
  for (let actor = act; actor && clients.size < MAX_CLIENTS; actor = actor.act) clients.add(actor.sub);
  return {
    subject: claims.subject,
    ...(typeof sid === 'string' && sid !== '' ? { session: sid } : {}),
    ...(claims.tokenId ? { tokenIds: [claims.tokenId] } : {}),
    clients: [...clients],
    ...(claims.issuedAt === undefined ? {} : { issuedAt: claims.issuedAt }),
  };
}
