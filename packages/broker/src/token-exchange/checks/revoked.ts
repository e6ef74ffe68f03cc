import { createHash } from 'node:crypto';
import { refuse } from '../../grants/refusal.ts';
import type {
  IssuedToken,
  PresentedToken,
  RegistryRefusal,
  TokenRegistry,
} from '../../registry/token-registry.ts';
import type { VerifiedInputToken } from '../input-token.ts';

const MAX_ACTORS = 32;

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

/** Every client a token names: `client_id`, `azp`, and each actor of its `act` chain. */
export function clientsOf(claims: Readonly<Record<string, unknown>>, clientId: string): string[] {
  const clients = new Set<string>(clientId ? [clientId] : []);
  if (typeof claims.azp === 'string') clients.add(claims.azp);
  let actor = claims.act as { sub?: unknown; act?: unknown } | undefined;
  for (let depth = 0; actor && typeof actor === 'object' && depth < MAX_ACTORS; depth++) {
    if (typeof actor.sub === 'string') clients.add(actor.sub);
    actor = actor.act as typeof actor;
  }
  return [...clients];
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
    const status = claims.tokenId
      ? await registry.status(claims.tokenId, now)
      : ({ active: false, reason: 'token_unknown' } as const);
    if (!status.active) reason = status.reason === 'token_unknown' ? 'token_revoked' : status.reason;
    else {
      record = status.token;
      if (alsoClients.length) reason = await registry.refusalOf({ clients: alsoClients });
    }
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
