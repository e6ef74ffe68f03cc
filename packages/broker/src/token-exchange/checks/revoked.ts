import { createHash } from 'node:crypto';
import { refuse } from '../../grants/refusal.ts';
import {
  clientsOf,
  type IssuedToken,
  type PresentedToken,
  type RegistryRefusal,
  type TokenRegistry,
} from '../../registry/token-registry.ts';
import type { VerifiedInputToken } from '../input-token.ts';

/** What each revocation reason tells the client (public, generic: never which revocation or by whom). */
const DESCRIPTIONS: Record<RegistryRefusal, string> = {
  token_revoked: 'is revoked (the token, or the grant it derives from)',
  subject_revoked: "is revoked (its subject's tokens were revoked, or the subject is disabled)",
  session_revoked: 'is revoked (its identity-provider session was revoked)',
  client_revoked: 'is revoked (a client in its chain, or the requesting client, is revoked)',
};

/** The root grant of an identity-provider token: `<iss>#<jti>` (a hash of the token when it has no `jti`). */
export function rootOf(verified: VerifiedInputToken, token: string): string {
  const { claims } = verified;
  return `${claims.issuer}#${claims.tokenId ?? createHash('sha256').update(token).digest('base64url')}`;
}

/**
 * Returns the registry's record of a broker-issued token (active); nothing for another issuer's.
 *
 * Refuses (`invalid_grant`, audited with the revocation's reason) an input token a revocation covers,
 * as strictly for an identity provider's token as for the broker's own: a broker-issued token by the
 * registry's walk of its chain; any other by its root grant, its subject (`iat` against the cut-off,
 * or disabled), its session (`sid`) and every client it names. `alsoClients` adds clients of the
 * request (the requesting client, an actor token's subject).
 */
export async function refuseRevoked(
  registry: TokenRegistry,
  verified: VerifiedInputToken,
  token: string,
  role: 'subject' | 'actor',
  now: number,
  alsoClients: readonly string[] = [],
): Promise<IssuedToken | undefined> {
  const { claims } = verified;
  let reason: RegistryRefusal | undefined;
  let record: IssuedToken | undefined;
  if (verified.brokerIssued) {
    // One lookup: the chain's records, and every client the token names or the request adds.
    const clients = [...new Set([...clientsOf(claims.claims, claims.clientId), ...alsoClients])];
    const status = claims.tokenId
      ? await registry.status(claims.tokenId, now, clients)
      : ({ active: false, reason: 'token_unknown' } as const);
    if (!status.active) reason = status.reason === 'token_unknown' ? 'token_revoked' : status.reason;
    else record = status.token;
  } else {
    const presented: PresentedToken = {
      root: rootOf(verified, token),
      subject: claims.subject,
      ...(typeof claims.issuedAt === 'number' ? { issuedAt: claims.issuedAt } : {}),
      ...(typeof claims.claims.sid === 'string' ? { session: claims.claims.sid } : {}),
      clients: [...new Set([...clientsOf(claims.claims, claims.clientId), ...alsoClients])],
    };
    reason = await registry.refusalOf(presented);
  }
  if (reason) throw refuse.grant(reason, `${role}_token ${DESCRIPTIONS[reason]}`);
  return record;
}
