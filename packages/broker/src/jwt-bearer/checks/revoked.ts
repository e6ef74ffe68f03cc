import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import { clientsOf, type TokenRegistry } from '../../registry/token-registry.ts';
import type { SubjectGrant } from '../../token-exchange/checks/subject.ts';
import { qualified } from '../visitor.ts';
import type { Assertion } from './assertion.ts';

/**
 * Check: no revocation covers the grant, and where the issued token sits in the registry. Its root is
 * the assertion itself (`<iss>#<jti>`), an ID-JAG's as a home broker's grant's: that is the root a
 * Shared Signals `jti` event from its issuer revokes, so a revocation of the grant at home ends what
 * was issued here from it. A home grant's own root (`baton_root`) is only a link, checked qualified by
 * the home issuer (`<home>#<baton_root>`), so an operator here can stop a whole visiting chain, and a
 * home broker cannot place its visitors under one of this domain's roots (a local revocation of the
 * visiting chain would otherwise revoke a local grant). Its subject and session are checked as this
 * domain names them (qualified for a visitor, see `visitor.ts`), and every client it names.
 */
export function assertionNotRevoked(registry: TokenRegistry): Check<GrantRequest & Assertion, SubjectGrant> {
  return async ({ subject, visitor, clientId }) => {
    const { claims } = subject;
    const root = `${claims.issuer}#${claims.tokenId}`;
    const carried = claims.claims.baton_root;
    const sid = claims.claims.sid;
    const session = typeof sid === 'string' && sid ? sid : undefined;
    const roots =
      visitor && typeof carried === 'string' && carried ? [root, `${visitor.home}#${carried}`] : [root];
    // The redeeming client is this domain's; every other client the grant names is the home domain's.
    const clients = clientsOf(claims.claims, clientId).map((client) =>
      visitor && client !== clientId ? qualified(visitor, client) : client,
    );
    for (const checked of roots) {
      const reason = await registry.refusalOf({
        root: checked,
        subject: visitor ? qualified(visitor, claims.subject) : claims.subject,
        ...(claims.issuedAt !== undefined ? { issuedAt: claims.issuedAt } : {}),
        ...(session ? { session: visitor ? qualified(visitor, session) : session } : {}),
        clients,
      });
      if (reason)
        throw refuse.grant(
          reason,
          'assertion is revoked (its grant, subject, session or a client in its chain)',
        );
    }
    return { parent: null, root };
  };
}
