import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import type { InputTokenVerifier, VerifiedInputToken } from '../input-token.ts';
import type { ExchangeParameters } from './parameters.ts';
import { refuseRevoked, rootOf } from './revoked.ts';
import { verifyInput } from './verify-input.ts';

/** What the subject check adds. */
export interface Subject {
  readonly subject: VerifiedInputToken;
}

/**
 * Check: the subject token, validated as strictly as at the MCP boundary (`typ`, signature by a key its
 * issuer publishes, exact `iss` among the trusted issuers, `exp`/`nbf`); its audience is the laundering
 * check's.
 */
export function subjectToken(inputs: InputTokenVerifier): Check<GrantRequest & ExchangeParameters, Subject> {
  return async ({ subjectToken }) => ({ subject: await verifyInput(inputs, subjectToken, 'subject') });
}

/** What the subject-grant check adds: where the issued token sits in the registry's tree. */
export interface SubjectGrant {
  /** The broker-issued subject token this one is exchanged from; `null` for an identity provider's. */
  readonly parent: string | null;
  /** The root grant: the identity-provider token at the start of the chain (`<iss>#<jti>`). */
  readonly root: string;
}

/**
 * Check: the subject token is not revoked, and neither is the requesting client (see `refuseRevoked`):
 * a broker-issued one by the registry's walk of its chain, which also yields its root grant; an
 * identity provider's by its root grant (`<iss>#<jti>`, or a hash of the token when it has no `jti`),
 * its subject, its session and the clients it names, so a revoked person, session or grant stops
 * minting at once rather than when the identity provider's token expires.
 */
export function subjectGrant(
  registry: TokenRegistry,
): Check<GrantRequest & ExchangeParameters & Subject, SubjectGrant> {
  return async ({ subject, subjectToken, now, clientId }) => {
    const issued = await refuseRevoked(registry, subject, subjectToken, 'subject', now, [clientId]);
    if (!issued) return { parent: null, root: rootOf(subject, subjectToken) };
    return { parent: issued.jti, root: issued.root };
  };
}
