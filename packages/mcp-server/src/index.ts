export {
  type BoundaryAdmission,
  type FetchMcpHandler,
  IdentityBoundary,
  type IdentityBoundaryOptions,
  type ProtectedRequestOptions,
} from './boundary.ts';
export { DownstreamClient } from './downstream/client.ts';
export { DownstreamError, type DownstreamErrorCode } from './downstream/errors.ts';
export type { DownstreamMode, DownstreamOptions, DownstreamService } from './downstream/services.ts';
export type { SharedTokenStore, TokenCacheLookup } from './downstream/token-cache.ts';
export { type DelegationPolicy, envelopeBodyFromClaims } from './identity-from-claims.ts';
export type {
  IdentityToolConfig,
  IdentityToolHandler,
  IdentityToolInvocation,
  ToolContext,
  ToolHost,
} from './identity-tool.ts';
// Operations: opt-in health, readiness and metrics for a boundary.
export {
  BOUNDARY_SERIES,
  BoundaryOperations,
  type BoundaryOperationsOptions,
  envelopeKeysCheck,
} from './operations.ts';
export { TOKEN_WITHHELD } from './request-context.ts';
export { type HopSpan, startHopSpan } from './telemetry.ts';
