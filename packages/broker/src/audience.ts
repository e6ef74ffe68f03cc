import type { TokenProvenance } from '@baton/core/stores';
import { sameResource } from '@baton/resource-server';
import type { AuthorizationGrantIssuer } from './jwt-bearer/authorization-grant.ts';

/** A resource the broker issues tokens for. */
export interface AudienceConfig {
  /** The resource URI the issued token is for (its `aud`). */
  resource: string;
  /** Scopes the resource understands. */
  scopes: readonly string[];
  /**
   * For a platform that wants its own grant (RFC 7523 JWT bearer, Entra-style on-behalf-of): the
   * connector that obtains the platform's token for the person, after Baton's own checks and policy.
   * Structurally a `PlatformConnector` from `@baton/connectors`.
   */
  platform?: PlatformTokenSource;
  /**
   * For another trust domain's authorization server (`identityChaining.foreignDomains`): a token
   * exchange for it yields a JWT authorization grant that server redeems (identity-chaining draft).
   */
  foreignDomain?: AuthorizationGrantIssuer;
}

/**
 * What the broker needs of a platform connector. A failure a retry may fix is a `BatonError` with code
 * `ERR_CONNECTOR_UNAVAILABLE` (as `@baton/connectors` throws it): the client gets a 503. Any other
 * failure is the platform refusing (`invalid_target`).
 */
export interface PlatformTokenSource {
  token(request: {
    user: { sub: string; tenant: string | null };
    scopes: readonly string[];
    subjectToken?: string;
    traceparent?: string;
    /** Who the subject token stands for, kept with a cached platform token so revocations find it. */
    provenance?: TokenProvenance;
  }): Promise<{
    accessToken: string;
    expiresAt: number;
    scope?: string;
    /** The platform user the person was mapped to, recorded in the audit event (never a token). */
    platformSubject?: string;
  }>;
}

/**
 * The configured audience a requested resource names, by the one resource rule (`sameResource`: a
 * trailing slash and a fragment forgiven, nothing else), or `undefined`.
 */
export function audienceFor(
  audiences: readonly AudienceConfig[],
  resource: string,
): AudienceConfig | undefined {
  return audiences.find((audience) => sameResource(audience.resource, resource));
}
