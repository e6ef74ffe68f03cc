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
export { extractAccessToken, extractBearerToken, type PresentedToken } from './bearer-header.ts';
export {
  authenticateChallenges,
  bearerChallenge,
  bearerErrorResponse,
  type ChallengeOptions,
  dpopChallenge,
} from './challenge.ts';
export type { ClientCertificate } from './client-certificate.ts';
export { dpopHtu, requestHtu } from './dpop/htu.ts';
export { type DpopNonceOptions, DpopNonces, type DpopNonceVerdict } from './dpop/nonce.ts';
export {
  accessTokenHash,
  DEFAULT_DPOP_ALGORITHMS,
  type DpopProofContext,
  type DpopProofOptions,
  DpopProofVerifier,
  type VerifiedDpopProof,
} from './dpop/proof.ts';
export {
  DEFAULT_DPOP_REPLAY_ENTRIES,
  DEFAULT_DPOP_REPLAY_ENTRIES_PER_KEY,
  DpopReplayQuotaExceeded,
  type DpopReplayStore,
  MemoryDpopReplayStore,
} from './dpop/replay-store.ts';
export {
  BearerError,
  type BearerErrorCode,
  challengeDescription,
  insufficientScope,
  invalidDpopProof,
  invalidToken,
  type RefusalReason,
  useDpopNonce,
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
export {
  type SenderConstraint,
  type SenderConstraintOptions,
  type SenderConstraintRequest,
  SenderConstraints,
} from './sender-constraint.ts';
