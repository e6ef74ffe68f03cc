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
import { perUserTokenCache, type TokenCachingOptions } from './per-user-cache.ts';
import { requestPlatformToken } from './token-endpoint.ts';
import type { UpstreamRevocationOptions } from './token-revocation.ts';
import { upstreamRevoker } from './upstream-revocation.ts';

/** On-behalf-of is for confidential clients only: `none` is not an option. */
export type OboClientAuthentication = Exclude<ClientAuthentication, { method: 'none' }>;

export interface EntraOboConnectorOptions extends TokenCachingOptions, UpstreamRevocationOptions {
  /** Names the connector in cache keys and errors. Default: `entra-obo:<clientId>@<tokenEndpoint>`. */
  id?: string;
  /** E.g. `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`. */
  tokenEndpoint: string;
  /** The middle-tier application the user's incoming token was issued to. */
  clientId: string;
  /** Entra accepts `client_secret_post` and `private_key_jwt` (certificate credentials). */
  clientAuthentication: OboClientAuthentication;
  /** Default 10 000. */
  timeoutMs?: number;
  /** Assumed token lifetime when the platform omits `expires_in`. Default 300. */
  defaultExpiresInSeconds?: number;
}

/**
 * Entra-style on-behalf-of: the user's incoming access token (issued to this client) is exchanged for a
 * token to a downstream API, for the same user. The platform does the identity mapping, so there is
 * none here; what the connector must get right is never asking without the user's token.
 *
 * Tokens are cached per Baton user (`request.user`), not per incoming token: the caller must pass the
 * user the subject token was validated for.
 */
export function entraOboConnector(options: EntraOboConnectorOptions): PlatformConnector {
  const tokenEndpoint = checkTokenEndpoint(options.tokenEndpoint);
  if (!options.clientId) throw new TypeError('clientId is required');
  if (!options.clientAuthentication || options.clientAuthentication.method === ('none' as string)) {
    throw new TypeError(
      'on-behalf-of needs client authentication: client_secret_post, _basic or private_key_jwt',
    );
  }
  const id = options.id ?? `entra-obo:${options.clientId}@${tokenEndpoint}`;
  const timeoutMs = checkPositive('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const defaultExpiresInSeconds = checkPositive(
    'defaultExpiresInSeconds',
    options.defaultExpiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS,
  );
  const authenticate = clientAuthenticator(options.clientId, tokenEndpoint, options.clientAuthentication);
  const cache = perUserTokenCache(id, options, upstreamRevoker(id, options, authenticate, timeoutMs));
  const clock = options.now ?? Date.now;

  return {
    id,
    ...(cache.revocations ? { revocations: cache.revocations } : {}),
    async token(request) {
      // Checked before the cache too: a cached token is only handed to a caller that shows the user's token.
      const subjectToken = request.subjectToken;
      if (typeof subjectToken !== 'string' || subjectToken === '') {
        throw new ConnectorError(
          'ERR_CONNECTOR_SUBJECT_TOKEN_MISSING',
          `${id}: on-behalf-of needs the user's access token (subjectToken)`,
          { connector: id },
        );
      }
      return cache.token(request, async () => {
        const scope = normalizeScopes(request.scopes).join(' ');
        const authentication = await authenticate(Math.floor(Date.now() / 1000));
        return requestPlatformToken({
          connector: id,
          tokenEndpoint,
          parameters: {
            grant_type: JWT_BEARER_GRANT,
            assertion: subjectToken,
            requested_token_use: 'on_behalf_of',
            ...(scope ? { scope } : {}),
            ...authentication.body,
          },
          headers: authentication.headers,
          traceparent: request.traceparent,
          timeoutMs,
          nowSeconds: clock() / 1000,
          defaultExpiresInSeconds,
        });
      });
    },
  };
}
