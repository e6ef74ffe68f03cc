import type { AccessTokenClaims } from '@baton/resource-server';
import { DEFAULT_ACCESS_TOKEN_ALGORITHMS, discoverAuthorizationServer } from '@baton/resource-server';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { scopesOf } from '../grants/parameters.ts';
import { refuse } from '../grants/refusal.ts';
import type { HomeDomain } from './options.ts';
import { namedAsVisitor } from './visitor.ts';

/** `typ` of an Identity Assertion JWT Authorization Grant (ID-JAG draft §3, RFC 8725 §3.11). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
/**
 * `typ` of the JWT authorization grants Baton brokers issue for another trust domain. The chaining
 * draft defines no media type and leaves explicit typing (RFC 8725 §3.11) to profiles: this is
 * Baton's, so neither an access token nor an ID-JAG can be presented as one.
 */
export const AUTHORIZATION_GRANT_TYP = 'baton-authz-grant+jwt';

/** What kind of grant an assertion is: an identity provider's ID-JAG, or a home broker's grant. */
export type AssertionKind = 'id_jag' | 'authorization_grant';

/** A verified assertion, in the claims shape every grant check reads. */
export interface VerifiedAssertion {
  kind: AssertionKind;
  claims: AccessTokenClaims;
  /** For a home broker's grant: that trust domain, as configured. */
  home?: HomeDomain;
}

interface TrustedSigner {
  kind: AssertionKind;
  home?: HomeDomain;
  typ: string;
  keys: () => Promise<JWTVerifyGetKey>;
}

/**
 * Verifies RFC 7523 §3 authorization grants: an ID-JAG from a trusted identity provider, or a JWT
 * authorization grant from a trusted home broker, chosen by `iss`. Checks the explicit `typ` of that
 * kind, the signature by a key its issuer publishes (asymmetric algorithms only), `aud` = this broker's
 * issuer, `exp`, `iat` neither in the future nor older than the maximum age, and the claims a grant
 * must carry (`iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `client_id`). Every failure is `invalid_grant`
 * with a stable reason. It does not check `client_id` against the client, nor `jti` replay: the
 * grant's checks do, with the request and the shared store.
 */
export class AssertionVerifier {
  readonly #audience: string;
  readonly #tokenEndpoint: string;
  readonly #signers = new Map<string, TrustedSigner>();
  readonly #maxAge: Record<AssertionKind, number>;
  readonly #homes: readonly string[];

  constructor(options: {
    audience: string;
    identityProviders: readonly { issuer: string; jwksUri?: string | undefined }[];
    homeDomains: readonly HomeDomain[];
    maxAgeSeconds: Record<AssertionKind, number>;
  }) {
    this.#audience = options.audience;
    this.#tokenEndpoint = `${options.audience.replace(/\/$/, '')}/token`;
    this.#maxAge = options.maxAgeSeconds;
    this.#homes = options.homeDomains.map((home) => home.issuer);
    for (const idp of options.identityProviders) {
      this.#signers.set(idp.issuer, {
        kind: 'id_jag',
        typ: ID_JAG_TYP,
        keys: once(() => remoteKeys(idp.issuer, idp.jwksUri)),
      });
    }
    for (const home of options.homeDomains) {
      const inline = home.jwks;
      this.#signers.set(home.issuer, {
        kind: 'authorization_grant',
        home,
        typ: AUTHORIZATION_GRANT_TYP,
        keys: inline
          ? once(async () => createLocalJWKSet(inline as never))
          : once(() => remoteKeys(home.issuer, home.jwksUri)),
      });
    }
  }

  async verify(assertion: string): Promise<VerifiedAssertion> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(assertion);
      unverified = decodeJwt(assertion);
    } catch {
      throw refuse.grant('assertion_malformed', 'assertion is not a signed JWT');
    }
    const signer = typeof unverified.iss === 'string' ? this.#signers.get(unverified.iss) : undefined;
    if (!signer) {
      throw refuse.grant(
        'assertion_issuer_untrusted',
        'assertion was issued by an issuer this broker does not trust for authorization grants',
      );
    }
    if (typeof header.typ !== 'string' || mediaType(header.typ) !== signer.typ) {
      throw refuse.grant('assertion_typ_invalid', `assertion must be explicitly typed ${signer.typ}`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, await signer.keys(), {
        issuer: unverified.iss as string,
        // A home broker's grant may name this broker by its token endpoint too (chaining draft §2.4.2,
        // RFC 7523 §3); an ID-JAG by its issuer only (ID-JAG draft §4.4.1).
        audience: signer.kind === 'id_jag' ? this.#audience : [this.#audience, this.#tokenEndpoint],
        algorithms: [...DEFAULT_ACCESS_TOKEN_ALGORITHMS],
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
        maxTokenAge: this.#maxAge[signer.kind],
        clockTolerance: 5,
      }));
    } catch (error) {
      throw refusalOf(error);
    }
    // ID-JAG draft §4.4.1: `aud` is this issuer, or an array of exactly that one element (jose
    // accepts an array that merely contains it: an audience-injection vector).
    if (Array.isArray(payload.aud) && payload.aud.length !== 1) {
      throw refuse.grant(
        'assertion_audience_invalid',
        'assertion must name this authorization server as its only audience',
      );
    }
    const { sub, client_id: clientId, jti } = payload;
    if (
      typeof sub !== 'string' ||
      !sub ||
      typeof clientId !== 'string' ||
      !clientId ||
      typeof jti !== 'string'
    ) {
      throw refuse.grant('assertion_claims_invalid', 'assertion sub, client_id and jti must be strings');
    }
    const claims: AccessTokenClaims = {
      issuer: payload.iss as string,
      subject: sub,
      clientId,
      scopes: scopesOf(typeof payload.scope === 'string' ? payload.scope : undefined),
      audience: typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []),
      expiresAt: payload.exp as number,
      issuedAt: payload.iat as number,
      tokenId: jti,
      claims: payload,
    };
    // An ID-JAG's names are kept as they are: none may be one this broker gives a visitor.
    if (signer.kind === 'id_jag' && namedAsVisitor(this.#homes, claims)) {
      throw refuse.grant(
        'assertion_claims_invalid',
        'assertion names its subject, tenant or session as a visitor from another trust domain',
      );
    }
    return { kind: signer.kind, ...(signer.home ? { home: signer.home } : {}), claims };
  }
}

/** A `typ` compared as RFC 8725 §3.11 / RFC 7515 §4.1.9 say: case-insensitively, `application/` optional. */
function mediaType(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function refusalOf(error: unknown) {
  if (error instanceof errors.JWTExpired) return refuse.grant('assertion_expired', 'assertion has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return refuse.grant('assertion_audience_invalid', 'assertion is not for this authorization server');
    if (error.claim === 'iat' && error.reason === 'check_failed')
      return refuse.grant('assertion_expired', 'assertion is too old, or issued in the future');
    return refuse.grant('assertion_claims_invalid', 'assertion lacks a required claim or one is invalid');
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid
  ) {
    return refuse.grant('assertion_signature_invalid', 'assertion signature does not verify');
  }
  return refuse.unavailable(
    'authorization_server_unavailable',
    'the assertion issuer’s keys could not be obtained',
    (error as Error)?.message,
  );
}

async function remoteKeys(issuer: string, jwksUri: string | undefined): Promise<JWTVerifyGetKey> {
  const uri = jwksUri ?? (await discoverAuthorizationServer(issuer)).jwks_uri;
  if (!uri) throw new Error(`${issuer} publishes no jwks_uri`);
  return createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
}

/** The first call's promise, kept once it resolves; a failed discovery is tried again next time. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
