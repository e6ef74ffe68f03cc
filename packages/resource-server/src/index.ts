export { type ActClaim, actorsOf, delegationOf, parseAct, withActor } from './access-token/act.ts';
export { byIssuer } from './access-token/by-issuer.ts';
export { type CallerKind, type CallerKindRule, defaultCallerKind } from './access-token/caller-kind.ts';
export {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  includesResource,
  normalizeResource,
  sameResource,
} from './access-token/claims.ts';
export { type IntrospectionVerifierOptions, introspectionVerifier } from './access-token/introspection.ts';
export {
  AUDIENCE_CHECKED_BY_CALLER,
  DEFAULT_ACCESS_TOKEN_ALGORITHMS,
  type JwtAccessTokenVerifier,
  type JwtAccessTokenVerifierOptions,
  jwtAccessTokenVerifier,
} from './access-token/jwt.ts';
export { tokenProvenance } from './access-token/provenance.ts';
export {
  isRevocationRefusal,
  type RevocationCheck,
  type RevocationVerdict,
  type RevokedReason,
  revocationRefusal,
} from './access-token/revocation.ts';
export {
  DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
  VerifiedTokenCache,
  type VerifiedTokenCacheOptions,
  type VerifiedTokenEviction,
} from './access-token/verified-token-cache.ts';
export {
  type AuthorizationServerMetadata,
  discoverAuthorizationServer,
} from './authorization-server-metadata.ts';
export { extractBearerToken } from './bearer-header.ts';
export { bearerChallenge, bearerErrorResponse, type ChallengeOptions } from './challenge.ts';
export type { ClientCertificate } from './client-certificate.ts';
export {
  BearerError,
  type BearerErrorCode,
  challengeDescription,
  insufficientScope,
  invalidToken,
  type RefusalReason,
} from './errors.ts';
export { isLoopbackHostname, isWellFormedHost } from './host-syntax.ts';
export {
  type MalformedRequest,
  type MalformedRequestAnswer,
  type MalformedRequestReason,
  malformedRequest,
  malformedRequestAnswer,
  malformedRequestResponse,
  type RequestAddress,
  requestAddress,
} from './malformed-request.ts';
export {
  type ProtectedResourceMetadata,
  type ProtectedResourceMetadataOptions,
  protectedResourceMetadata,
  protectedResourceMetadataDocumentResponse,
  protectedResourceMetadataResponse,
  protectedResourceMetadataUrl,
} from './protected-resource-metadata.ts';
