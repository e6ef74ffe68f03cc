import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { discoverAuthorizationServer } from '../authorization-server-metadata.ts';
import { authorizationServerUnavailable, type BearerError, invalidToken } from '../errors.ts';
import { lazyRetrying } from '../lazy.ts';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  audienceList,
  parseScope,
  sameResource,
} from './claims.ts';
import {
  bindVerifiedTokenCache,
  VerifiedTokenCache,
  type VerifiedTokenStore,
  verifiedTokenKey,
} from './verified-token-cache.ts';

/**
 * Pass as `audience` when the caller checks the audience itself against something only it knows,
 * e.g. a token broker checking that a subject token was issued for the client exchanging it.
 * The verifier then checks everything else and returns the token's audiences unchecked.
 */
export const AUDIENCE_CHECKED_BY_CALLER: unique symbol = Symbol('baton.audience-checked-by-caller');

/** Asymmetric algorithms only (RFC 8725 §3.1): HMAC would let anyone holding the JWKS mint tokens. */
export const DEFAULT_ACCESS_TOKEN_ALGORITHMS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'] as const;

export interface JwtAccessTokenVerifierOptions {
  /** The authorization server's issuer identifier, compared exactly with `iss`. Required. */
  issuer: string;
  /**
   * This resource's canonical URI (RFC 8707); the token's `aud` must name it. Required; pass
   * {@link AUDIENCE_CHECKED_BY_CALLER} only when the caller checks the returned audiences itself.
   */
  audience: string | typeof AUDIENCE_CHECKED_BY_CALLER;
  /** Algorithm allow-list; default {@link DEFAULT_ACCESS_TOKEN_ALGORITHMS}. `none` and HMAC are refused. */
  algorithms?: readonly string[];
  /** JWKS location; default: `jwks_uri` from the issuer's RFC 8414 / OIDC metadata. */
  jwksUri?: string;
  /** The issuer's public keys in hand (no fetching), e.g. an authorization server verifying its own tokens. */
  jwks?: { keys: Array<Record<string, unknown>> };
  /** Clock skew allowed on `exp`/`nbf`/`iat`, seconds: a finite number >= 0 (else `TypeError`). Default 30. */
  clockToleranceSeconds?: number;
  /** How the metadata and the JWKS are fetched (e.g. trusting an internal CA). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /**
   * Verified tokens kept until their `exp`, keyed by the token's SHA-256, so a token seen again skips
   * the signature check (every hit still checks `exp`/`nbf` and that the issuer still publishes the
   * signing key). Default: a `VerifiedTokenCache` of 10,000 entries for this verifier, readable as
   * `verifier.cache` (to `evict`: the next use is verified in full); pass one to size it, `false` to
   * verify every token in full. Eviction does not refuse a revoked token: that needs a revocation check.
   */
  cache?: VerifiedTokenCache | false;
}

/** A JWT access-token verifier, with the cache of tokens it verified (`undefined` when disabled). */
export interface JwtAccessTokenVerifier extends AccessTokenVerifier {
  /**
   * Evict from here to have a token, a person's tokens or everything verified in full on next use:
   * `verifier.cache?.evict({ subject })`. Not revocation: a validly signed, unexpired token passes again.
   */
  readonly cache: VerifiedTokenCache | undefined;
}

/**
 * Validates RFC 9068 JWT access tokens: `typ` `at+jwt`, signature by a key the issuer publishes
 * (fetched through its metadata, cached, refreshed on an unknown `kid`), exact `iss`, `aud` naming this
 * resource, `exp`/`nbf` with small skew, and the claims a resource needs (`sub`, `client_id`). The
 * claims it returns are deeply frozen. A token verified once is remembered until its `exp` (see
 * `VerifiedTokenCache`): a repeat use costs a hash and a key lookup instead of a signature check.
 *
 * @example
 * const verifier = jwtAccessTokenVerifier({ issuer: 'https://idp.example', audience: 'https://orders.example/mcp' });
 * const claims = await verifier.verify(token); // throws BearerError
 */
export function jwtAccessTokenVerifier(options: JwtAccessTokenVerifierOptions): JwtAccessTokenVerifier {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('jwtAccessTokenVerifier: issuer is required');
  }
  if (
    options.audience !== AUDIENCE_CHECKED_BY_CALLER &&
    (typeof options.audience !== 'string' || options.audience === '')
  ) {
    throw new TypeError('jwtAccessTokenVerifier: audience (this resource URI) is required');
  }
  const algorithms = [...(options.algorithms ?? DEFAULT_ACCESS_TOKEN_ALGORITHMS)];
  if (algorithms.length === 0 || algorithms.some((alg) => alg === 'none' || alg.startsWith('HS'))) {
    throw new TypeError(
      'jwtAccessTokenVerifier: algorithms must be a non-empty list of asymmetric algorithms',
    );
  }
  const { issuer, audience } = options;
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  // A number, checked here: jose would take '30s', but the cache's `exp` arithmetic would make it NaN,
  // and a cached token would then never expire.
  if (typeof clockTolerance !== 'number' || !Number.isFinite(clockTolerance) || clockTolerance < 0) {
    throw new TypeError('jwtAccessTokenVerifier: clockToleranceSeconds must be a finite number >= 0');
  }
  const resolveKeys = lazyRetrying<JWTVerifyGetKey>(async () => {
    if (options.jwks) return createLocalJWKSet(options.jwks as Parameters<typeof createLocalJWKSet>[0]);
    const jwksUri =
      options.jwksUri ?? (await discoverAuthorizationServer(issuer, { fetch: options.fetch })).jwks_uri;
    if (!jwksUri) throw authorizationServerUnavailable(new Error(`issuer ${issuer} publishes no jwks_uri`));
    return createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
      // The JWKS is fetched as the metadata is: e.g. over a dispatcher trusting an internal CA.
      ...(options.fetch ? { [customFetch]: options.fetch } : {}),
    });
  });

  if (
    options.cache !== undefined &&
    options.cache !== false &&
    !(options.cache instanceof VerifiedTokenCache)
  ) {
    throw new TypeError('jwtAccessTokenVerifier: cache must be a VerifiedTokenCache or false');
  }
  const cache = options.cache === false ? undefined : (options.cache ?? new VerifiedTokenCache());
  const store = cache ? bindVerifiedTokenCache(cache) : undefined;

  /** The full check: signature, header, claims. Throws `BearerError`. */
  const verifyInFull = async (token: string) => {
    const getKey = await resolveKeys();
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      verified = await jwtVerify(token, getKey, {
        issuer,
        algorithms,
        typ: 'at+jwt',
        clockTolerance,
        requiredClaims: ['exp', 'sub', 'client_id'],
      });
    } catch (error) {
      throw mapJoseError(error);
    }
    const { payload, protectedHeader, key } = verified;
    const audiences = audienceList(payload.aud);
    if (
      audience !== AUDIENCE_CHECKED_BY_CALLER &&
      !audiences.some((value) => sameResource(value, audience))
    ) {
      throw invalidToken('audience_invalid', 'the access token was not issued for this resource');
    }
    if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string') {
      throw invalidToken('claims_invalid', 'the access token lacks sub or client_id');
    }
    return {
      claims: deepFrozen(toClaims(payload as Record<string, unknown>, issuer, audiences)),
      header: {
        alg: protectedHeader.alg as string,
        ...(typeof protectedHeader.kid === 'string' ? { kid: protectedHeader.kid } : {}),
      },
      key,
      notBefore: typeof payload.nbf === 'number' ? payload.nbf : undefined,
    };
  };

  /**
   * A cached verification, if it still holds: unexpired and valid by `nbf` (jose's rules, with the same
   * tolerance), and signed by a key the key set still yields for its header, as the same key object. The
   * key set answers as it would for a full check: a stale remote set reloads, a withdrawn key is gone.
   */
  const fromCache = async (store: VerifiedTokenStore, key: string) => {
    const now = Math.floor(Date.now() / 1000);
    const entry = store.get(key, now, clockTolerance);
    if (entry === undefined) return undefined;
    if (entry.notBefore !== undefined && entry.notBefore > now + clockTolerance) return undefined;
    try {
      const getKey = await resolveKeys();
      if ((await getKey(entry.header, undefined as never)) === entry.key) return entry.claims;
    } catch {
      // No such key any more, or the key set is unreachable: the full check decides and says why.
    }
    store.delete(key);
    return undefined;
  };

  const verifier: JwtAccessTokenVerifier = {
    cache,
    async verify(token) {
      if (store === undefined) return (await verifyInFull(token)).claims;
      const key = verifiedTokenKey(token);
      // Before anything awaits: an eviction after this point keeps this verification out of the cache.
      const generation = store.generation;
      const hit = await fromCache(store, key);
      if (hit !== undefined) {
        store.hits++;
        return hit;
      }
      store.misses++;
      const entry = await verifyInFull(token);
      store.set(key, entry, generation);
      return entry.claims;
    },
  };
  return Object.freeze(verifier);
}

/** Freezes claims all the way down: a cache hands the same object to every request. */
function deepFrozen<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFrozen(child);
    Object.freeze(value);
  }
  return value;
}

function toClaims(payload: Record<string, unknown>, issuer: string, audience: string[]): AccessTokenClaims {
  return {
    issuer,
    subject: payload.sub as string,
    clientId: payload.client_id as string,
    scopes: parseScope(payload.scope),
    audience,
    expiresAt: payload.exp as number,
    ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat } : {}),
    ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
    claims: payload,
  };
}

function mapJoseError(error: unknown): BearerError {
  if (error instanceof errors.JWTExpired)
    return invalidToken('token_expired', 'the access token has expired', error);
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return invalidToken('issuer_invalid', 'the access token was issued by an untrusted issuer', error);
      case 'typ':
        return invalidToken('typ_invalid', 'the token is not a JWT access token (typ must be at+jwt)', error);
      case 'nbf':
      case 'iat':
        return invalidToken('token_not_yet_valid', 'the access token is not valid yet', error);
      default:
        return invalidToken(
          'claims_invalid',
          `the access token claim ${error.claim} is missing or invalid`,
          error,
        );
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidToken('alg_not_allowed', 'the access token algorithm is not allowed', error);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalidToken(
      'key_unknown',
      'the access token is signed with a key the issuer does not publish',
      error,
    );
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    // A token without `kid` while the issuer publishes several usable keys (normal during rotation):
    // the token does not say which key signed it. A refusal of this token, not an outage to retry.
    return invalidToken(
      'key_unknown',
      'the access token does not identify which of the issuer keys signed it',
      error,
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidToken('signature_invalid', 'the access token signature is invalid', error);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return invalidToken('token_malformed', 'the access token is malformed', error);
  }
  // JWKS timeouts and fetch failures: the issuer's keys could not be read. Fail closed, retryably.
  return authorizationServerUnavailable(error);
}
