import type { TokenProvenance } from '@baton/core/stores';
import type { RevocationFollowing } from '@baton/shared-signals';

/** The Baton user a platform token is wanted for, as the broker validated them. */
export interface ConnectorUser {
  sub: string;
  tenant: string | null;
}

export interface PlatformTokenRequest {
  user: ConnectorUser;
  /** Platform scopes; order and duplicates do not matter. */
  scopes: readonly string[];
  /** The user's incoming access token, for grants that exchange it (on-behalf-of). */
  subjectToken?: string;
  /** W3C trace context, forwarded to the platform's token endpoint. */
  traceparent?: string;
  /**
   * Who the Baton token the request comes with stands for (`tokenProvenance(claims)` from
   * `@baton/resource-server`): kept with the cached platform token, so a revocation of that session,
   * token or a client of its chain drops it. Without it, only a revocation of `user.sub` finds it.
   */
  provenance?: TokenProvenance;
}

export interface PlatformToken {
  accessToken: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The scope the platform granted, when it said. */
  scope?: string;
  /**
   * The platform user the token acts as, when the connector mapped the person to one
   * (`identityMapping`; for Salesforce: the username). For the audit: an identifier, never a secret.
   */
  platformSubject?: string;
}

/**
 * A downstream platform that wants its own OAuth grant for each user. Implementations cache per user,
 * so calling `token` before every platform call is the intended use.
 */
export interface PlatformConnector {
  /** Identifies the connector in cache keys and errors. */
  readonly id: string;
  token(request: PlatformTokenRequest): Promise<PlatformToken>;
  /**
   * When built with `revocations`: the cache following that list (`settled()` once the drops begun so
   * far are done, upstream revocations included; `stop()` at shutdown).
   */
  readonly revocations?: RevocationFollowing;
}
