import type { InputTokenReason } from '@baton/audit';
import { BatonError } from '@baton/core';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  AUDIENCE_CHECKED_BY_CALLER,
  BearerError,
  jwtAccessTokenVerifier,
} from '@baton/resource-server';
import { decodeJwt } from 'jose';
import { namedAsVisitor } from '../jwt-bearer/visitor.ts';

export interface TrustedIssuer {
  /** Issuer identifier, compared exactly with `iss`. */
  issuer: string;
  /** Default: from the issuer's metadata. */
  jwksUri?: string;
}

export interface VerifiedInputToken {
  claims: AccessTokenClaims;
  /** Whether the broker itself issued it (a later hop), rather than an identity provider. */
  brokerIssued: boolean;
}

/** Why an input (subject or actor) token was refused; the message is safe to return to the client. */
export class InputTokenError extends BatonError<'ERR_BROKER_INPUT_TOKEN_INVALID'> {
  override readonly name = 'InputTokenError';
  readonly reason: InputTokenReason;
  constructor(reason: InputTokenReason, message: string) {
    super('ERR_BROKER_INPUT_TOKEN_INVALID', message);
    this.reason = reason;
  }
}

/**
 * Verifies subject and actor tokens as strictly as the MCP boundary does (RFC 9068: `typ`, signature
 * from the issuer's published keys, exact `iss`, expiry), choosing the issuer by the token's `iss`
 * among those configured. The audience is checked by the caller, who knows which client is exchanging.
 */
export class InputTokenVerifier {
  readonly #verifiers = new Map<string, AccessTokenVerifier>();
  readonly #brokerIssuer: string;
  readonly #homes: readonly string[];

  constructor(options: {
    trusted: readonly TrustedIssuer[];
    broker: { issuer: string; jwks: { keys: Array<Record<string, unknown>> } };
    /** The home domains' issuers (identity chaining): names only this broker gives its visitors. */
    homes?: readonly string[];
  }) {
    this.#homes = options.homes ?? [];
    for (const trusted of options.trusted) {
      this.#verifiers.set(
        trusted.issuer,
        jwtAccessTokenVerifier({
          issuer: trusted.issuer,
          audience: AUDIENCE_CHECKED_BY_CALLER,
          ...(trusted.jwksUri ? { jwksUri: trusted.jwksUri } : {}),
        }),
      );
    }
    this.#brokerIssuer = options.broker.issuer;
    this.#verifiers.set(
      options.broker.issuer,
      jwtAccessTokenVerifier({
        issuer: options.broker.issuer,
        audience: AUDIENCE_CHECKED_BY_CALLER,
        jwks: options.broker.jwks,
      }),
    );
  }

  async verify(token: string, role: 'subject' | 'actor'): Promise<VerifiedInputToken> {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new InputTokenError('token_malformed', `${role}_token is not a JWT access token`);
    }
    const verifier = typeof issuer === 'string' ? this.#verifiers.get(issuer) : undefined;
    if (!verifier)
      throw new InputTokenError(
        'issuer_untrusted',
        `${role}_token was issued by an issuer this broker does not trust`,
      );
    try {
      const claims = await verifier.verify(token);
      const brokerIssued = issuer === this.#brokerIssuer;
      if (!brokerIssued && namedAsVisitor(this.#homes, claims))
        throw new InputTokenError(
          'claims_invalid',
          `${role}_token names its subject, tenant or session as a visitor from another trust domain`,
        );
      return { claims, brokerIssued };
    } catch (error) {
      if (error instanceof BearerError) {
        if (error.status === 503) throw error;
        throw new InputTokenError(error.reason, `${role}_token is invalid: ${error.description}`);
      }
      throw error;
    }
  }
}
