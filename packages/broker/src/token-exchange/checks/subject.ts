import { createHash } from 'node:crypto';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import type { InputTokenVerifier, VerifiedInputToken } from '../input-token.ts';
import type { ExchangeParameters } from './parameters.ts';
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
 * Check: a broker-issued subject token is still active (not revoked, nor derived from a revoked grant),
 * read in one registry lookup that also yields its root grant. An identity provider's token starts a
 * grant: its root is `<iss>#<jti>` (or a hash of the token when it has no `jti`).
 */
export function subjectGrant(
  registry: TokenRegistry,
): Check<GrantRequest & ExchangeParameters & Subject, SubjectGrant> {
  return async ({ subject, subjectToken, now }) => {
    const { claims } = subject;
    if (!subject.brokerIssued) {
      return {
        parent: null,
        root: `${claims.issuer}#${claims.tokenId ?? createHash('sha256').update(subjectToken).digest('base64url')}`,
      };
    }
    const issued = claims.tokenId ? await registry.findActive(claims.tokenId, now) : undefined;
    if (!issued) {
      throw refuse.request(
        'subject_revoked',
        'subject_token is not active (revoked, or derived from a revoked grant)',
      );
    }
    return { parent: issued.jti, root: issued.root };
  };
}
