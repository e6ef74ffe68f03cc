import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import { clientsOf, type TokenRegistry } from '../../registry/token-registry.ts';
import type { SubjectGrant } from '../../token-exchange/checks/subject.ts';
import type { Assertion } from './assertion.ts';

/**
 * Check: no revocation covers the grant, and where the issued token sits in the registry. Its root is
 * the home broker's root grant (`baton_root`) for a chained grant, so a revocation of the chain at home
 * (as its Shared Signals carry it) also ends what the foreign broker issued from it; an ID-JAG is its
 * own root (`<iss>#<jti>`). Its subject, session and every client it names are checked as well.
 */
export function assertionNotRevoked(registry: TokenRegistry): Check<GrantRequest & Assertion, SubjectGrant> {
  return async ({ subject, kind, clientId }) => {
    const { claims } = subject;
    const carried = claims.claims.baton_root;
    const root =
      kind === 'authorization_grant' && typeof carried === 'string' && carried
        ? carried
        : `${claims.issuer}#${claims.tokenId}`;
    const sid = claims.claims.sid;
    const reason = await registry.refusalOf({
      root,
      subject: claims.subject,
      ...(claims.issuedAt !== undefined ? { issuedAt: claims.issuedAt } : {}),
      ...(typeof sid === 'string' && sid ? { session: sid } : {}),
      clients: clientsOf(claims.claims, clientId),
    });
    if (reason)
      throw refuse.grant(
        reason,
        'assertion is revoked (its grant, subject, session or a client in its chain)',
      );
    return { parent: null, root };
  };
}
