import { normalizeScopes } from './cache-key.ts';
import { type ClientAuthentication, clientAuthenticator } from './client-authentication.ts';
import type { PlatformConnector } from './connector.ts';
import {
  checkPositive,
  checkTokenEndpoint,
  DEFAULT_EXPIRES_IN_SECONDS,
  DEFAULT_TIMEOUT_MS,
  JWT_BEARER_GRANT,
} from './endpoint-options.ts';
import { ConnectorError } from './errors.ts';
import { type IdentityMapping, identityResolver } from './identity-mapping.ts';
import { perUserTokenCache, type TokenCachingOptions } from './per-user-cache.ts';
import { type AssertionKey, assertionSigner } from './signing-key.ts';
import { requestPlatformToken } from './token-endpoint.ts';
import type { UpstreamRevocationOptions } from './token-revocation.ts';
import { upstreamRevoker } from './upstream-revocation.ts';

export interface JwtBearerConnectorOptions extends TokenCachingOptions, UpstreamRevocationOptions {
  /** Names the connector in cache keys and errors. Default: `jwt-bearer:<clientId>@<tokenEndpoint>`. */
  id?: string;
  tokenEndpoint: string;
  /** The client registered at the platform (Salesforce: the connected app's consumer key). */
  clientId: string;
  /** The assertion's `iss`. Default: `clientId`. */
  assertionIssuer?: string;
  /**
   * The assertion's `aud`: the platform's token endpoint or its issuer (Salesforce:
   * `https://login.salesforce.com`). Default: `tokenEndpoint`.
   */
  audience?: string;
  /** Signs the assertions (ES256 for EC P-256, RS256 for RSA). The platform holds the public half. */
  privateKey: AssertionKey;
  /** `kid` header. Default: the JWK's `kid`. */
  keyId?: string;
  /** The platform identity each Baton user acts as. Users it does not map get no token. */
  identityMapping: IdentityMapping;
  /** Assertion lifetime; at most 300 (RFC 7523 asks for short-lived assertions). Default 120. */
  assertionLifetimeSeconds?: number;
  /** Default `none`: the signed assertion is the proof, `client_id` only identifies the client. */
  clientAuthentication?: ClientAuthentication;
  /** Default 10 000. */
  timeoutMs?: number;
  /** Assumed token lifetime when the platform omits `expires_in`. Default 300. */
  defaultExpiresInSeconds?: number;
}

const MAX_ASSERTION_LIFETIME_SECONDS = 300;

/**
 * RFC 7523 §2.1 JWT bearer authorization grant (the Salesforce pattern): Baton asserts, with its own
 * key, "this request is for platform user X", and the platform trusts the key to say so. The user's
 * own token is not needed — which is why the identity mapping is the policy: a user it does not map is
 * refused before anything is signed or sent.
 *
 * `now` (see TokenCachingOptions) drives token expiry and caching only; assertions always carry the
 * real time, because the platform checks them against its own clock.
 */
export function jwtBearerConnector(options: JwtBearerConnectorOptions): PlatformConnector {
  const tokenEndpoint = checkTokenEndpoint(options.tokenEndpoint);
  if (!options.clientId) throw new TypeError('clientId is required');
  const id = options.id ?? `jwt-bearer:${options.clientId}@${tokenEndpoint}`;
  const lifetimeSeconds = checkPositive('assertionLifetimeSeconds', options.assertionLifetimeSeconds ?? 120);
  if (lifetimeSeconds > MAX_ASSERTION_LIFETIME_SECONDS) {
    throw new TypeError(`assertionLifetimeSeconds must be at most ${MAX_ASSERTION_LIFETIME_SECONDS}`);
  }
  const timeoutMs = checkPositive('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const defaultExpiresInSeconds = checkPositive(
    'defaultExpiresInSeconds',
    options.defaultExpiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS,
  );
  const issuer = options.assertionIssuer ?? options.clientId;
  const audience = options.audience ?? tokenEndpoint;
  const signer = assertionSigner(options.privateKey, { keyId: options.keyId });
  const authenticate = clientAuthenticator(
    options.clientId,
    tokenEndpoint,
    options.clientAuthentication ?? { method: 'none' },
  );
  const platformIdentity = identityResolver(options.identityMapping);
  const cache = perUserTokenCache(id, options, upstreamRevoker(id, options, authenticate, timeoutMs));
  const clock = options.now ?? Date.now;

  return {
    id,
    ...(cache.revocations ? { revocations: cache.revocations } : {}),
    async token(request) {
      const platformUser = await platformIdentity(request.user);
      if (!platformUser) {
        throw new ConnectorError(
          'ERR_CONNECTOR_IDENTITY_UNMAPPED',
          `${id}: the user has no identity on this platform`,
          { connector: id },
        );
      }
      // The platform user is part of the cache key: once the mapping names another identity, the token
      // issued for the previous one is not served. It is named with the token for the broker's audit.
      const token = await cache.token(
        request,
        async () => {
          const realNow = Math.floor(Date.now() / 1000);
          const scope = normalizeScopes(request.scopes).join(' ');
          const authentication = await authenticate(realNow);
          return requestPlatformToken({
            connector: id,
            tokenEndpoint,
            parameters: {
              grant_type: JWT_BEARER_GRANT,
              assertion: await signer.sign(
                { iss: issuer, sub: platformUser, aud: audience, lifetimeSeconds },
                realNow,
              ),
              ...(scope ? { scope } : {}),
              ...authentication.body,
            },
            headers: authentication.headers,
            traceparent: request.traceparent,
            timeoutMs,
            nowSeconds: clock() / 1000,
            defaultExpiresInSeconds,
          });
        },
        platformUser,
      );
      return { ...token, platformSubject: platformUser };
    },
  };
}
