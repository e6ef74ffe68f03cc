import { extractBearerToken } from '@baton/resource-server';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { ClientMetadata } from 'oidc-provider';

/** Longest lifetime of an admin client assertion (`exp - iat`), seconds. */
const MAX_ASSERTION_SECONDS = 300;
const ASYMMETRIC = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];
const SYMMETRIC = ['HS256', 'HS384', 'HS512'];

/** Why the admin API refused a request's credentials: a 401 with a challenge, or a 403. */
export class AdminAuthenticationError extends Error {
  override readonly name = 'AdminAuthenticationError';
  readonly status: 401 | 403;
  /** RFC 6750 §3.1 error; absent when the request carried no credentials. */
  readonly error: 'invalid_token' | 'insufficient_scope' | undefined;
  readonly description: string;
  constructor(
    status: 401 | 403,
    error: 'invalid_token' | 'insufficient_scope' | undefined,
    description: string,
  ) {
    super(description);
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/** A static client's keys for verifying its assertions: inline `jwks`, and/or its `client_secret`. */
interface ClientKeys {
  jwks: JWTVerifyGetKey | undefined;
  secret: Uint8Array | undefined;
}

export interface AdminAuthenticationOptions {
  /** The `aud` every assertion must carry: the admin endpoint's URL (`<issuer>/admin/revocations`). */
  audience: string;
  /** The operator's static clients (`BrokerOptions.clients`): the only clients whose assertions are verified here. */
  clients: readonly ClientMetadata[];
  /** The static client ids allowed to administer (`BrokerOptions.adminClients`). */
  admins: readonly string[];
  /** Records a jti as used until `exp`; false when it was used before (oidc-provider's `ReplayDetection.unique`). */
  unique(iss: string, jti: string, exp: number): Promise<boolean>;
}

/**
 * Authenticates a call to the broker's admin API. The credential is a client assertion (RFC 7523
 * §2.2, the shape `private_key_jwt` sends to the token endpoint; `client_secret_jwt` for a client with
 * a secret) presented as `Authorization: Bearer`, with `iss` = `sub` = the client id, `aud` = the
 * admin endpoint's URL (so no token-endpoint assertion is accepted here, nor the reverse), `exp`
 * at most five minutes after `iat`, and a `jti` used once.
 *
 * Only static clients (the operator's configuration) are known here, so a dynamically registered
 * client can never administer; among them, only those listed in `admins`. A verified assertion of any
 * other static client is 403.
 *
 * @example
 * const authenticate = adminAuthentication({ audience, clients, admins: ['ops'], unique });
 * const clientId = await authenticate(request.headers.authorization);
 */
export function adminAuthentication(options: AdminAuthenticationOptions) {
  const keys = new Map<string, ClientKeys>();
  for (const client of options.clients) {
    const id = String(client.client_id);
    const jwks = client.jwks as { keys: unknown[] } | undefined;
    keys.set(id, {
      jwks: jwks?.keys?.length ? createLocalJWKSet(jwks as never) : undefined,
      secret:
        typeof client.client_secret === 'string' ? new TextEncoder().encode(client.client_secret) : undefined,
    });
  }
  const admins = new Set(options.admins);
  for (const admin of admins) {
    const known = keys.get(admin);
    if (!known) {
      throw new TypeError(
        `adminClients: ${admin} is not a static client (only the operator's clients may administer)`,
      );
    }
    if (!known.jwks && !known.secret) {
      throw new TypeError(
        `adminClients: ${admin} has neither inline jwks nor a client_secret to verify its assertions`,
      );
    }
  }

  return async function authenticateAdmin(authorization: string | undefined): Promise<string> {
    let assertion: string;
    try {
      assertion = extractBearerToken(authorization);
    } catch {
      throw new AdminAuthenticationError(401, undefined, 'a client assertion is required');
    }
    let iss: unknown;
    let alg: unknown;
    try {
      iss = decodeJwt(assertion).iss;
      alg = decodeProtectedHeader(assertion).alg;
    } catch {
      throw invalid('the credential is not a JWT client assertion');
    }
    const client = typeof iss === 'string' ? keys.get(iss) : undefined;
    if (!client || typeof iss !== 'string') throw invalid('the assertion is not from a known static client');
    const symmetric = typeof alg === 'string' && SYMMETRIC.includes(alg);
    const key = symmetric ? client.secret : client.jwks;
    if (!key) throw invalid('the assertion is signed with a method this client has no key for');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(assertion, key as never, {
        issuer: iss,
        subject: iss,
        audience: options.audience,
        algorithms: symmetric ? SYMMETRIC : ASYMMETRIC,
        requiredClaims: ['exp', 'iat', 'jti'],
        maxTokenAge: MAX_ASSERTION_SECONDS,
      }));
    } catch {
      throw invalid('the client assertion is invalid (signature, issuer, audience or lifetime)');
    }
    const exp = payload.exp as number;
    const iat = payload.iat as number;
    if (typeof payload.jti !== 'string' || exp - iat > MAX_ASSERTION_SECONDS) {
      throw invalid('the client assertion must carry a jti and live at most five minutes');
    }
    if (!admins.has(iss)) {
      throw new AdminAuthenticationError(403, 'insufficient_scope', 'this client is not an administrator');
    }
    if (!(await options.unique(iss, payload.jti, exp)))
      throw invalid('the client assertion was already used');
    return iss;
  };
}

function invalid(description: string): AdminAuthenticationError {
  return new AdminAuthenticationError(401, 'invalid_token', description);
}
