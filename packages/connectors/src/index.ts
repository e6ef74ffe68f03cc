/**
 * @baton/connectors: tokens for downstream platforms that want their own OAuth grant per user
 * (RFC 7523 JWT bearer, Entra-style on-behalf-of), cached per user.
 */
export { tokenCacheKey } from './cache-key.ts';
export type { ClientAuthentication } from './client-authentication.ts';
export type {
  ConnectorUser,
  PlatformConnector,
  PlatformToken,
  PlatformTokenRequest,
} from './connector.ts';
export { JWT_BEARER_GRANT } from './endpoint-options.ts';
export {
  type EntraOboConnectorOptions,
  entraOboConnector,
  type OboClientAuthentication,
} from './entra-obo.ts';
export { ConnectorError, type ConnectorErrorCode, type ConnectorErrorDetails } from './errors.ts';
export type { IdentityMapping } from './identity-mapping.ts';
export { type JwtBearerConnectorOptions, jwtBearerConnector } from './jwt-bearer.ts';
export { DEFAULT_REFRESH_SKEW_SECONDS, type TokenCachingOptions } from './per-user-cache.ts';
export type { AssertionAlgorithm, AssertionKey } from './signing-key.ts';
export { stringTokenCache } from './string-token-cache.ts';
export {
  type CachedToken,
  decodeCachedToken,
  encodeCachedToken,
  type MemoryTokenCacheOptions,
  memoryTokenCache,
  type TokenCache,
} from './token-cache.ts';
export type { RevocationLogger, UpstreamRevocationOptions } from './token-revocation.ts';
