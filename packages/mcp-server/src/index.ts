// Declared per-tool policy and human approval (issue #12).
export type { ApprovalOptions } from './approval/approvals.ts';
export { type ApprovalChannel, type ClientReach, urlApprovalChannel } from './approval/channel.ts';
export {
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalStore,
  keyValueApprovalStore,
  memoryApprovalStore,
} from './approval/store.ts';
export {
  type BoundaryAdmission,
  type FetchMcpHandler,
  IdentityBoundary,
  type IdentityBoundaryOptions,
  type ProtectedRequestOptions,
} from './boundary.ts';
// DLP (issue #12 item 5): the policy type, and the scan the boundary applies to tool results, for
// resources and prompts too.
export {
  type BlockedResult,
  blockedMessage,
  DLP_DETECTORS,
  type DlpAction,
  type DlpDetector,
  type DlpFindings,
  type DlpPolicy,
  type DlpScan,
  scanResult,
} from './dlp/index.ts';
export { DownstreamClient } from './downstream/client.ts';
export { DownstreamError, type DownstreamErrorCode } from './downstream/errors.ts';
export type {
  ClientTls,
  DownstreamMode,
  DownstreamOptions,
  DownstreamService,
  FetchDispatcher,
  SenderConstraint,
} from './downstream/services.ts';
export type { SharedTokenStore, TokenCacheLookup } from './downstream/token-cache.ts';
export { type DelegationPolicy, envelopeBodyFromClaims } from './identity-from-claims.ts';
// Resources and prompts with identity, lists that follow it (issue #12).
export type {
  IdentityPromptConfig,
  IdentityPromptGet,
  IdentityPromptHandler,
  PromptHost,
} from './identity-prompt.ts';
export type {
  IdentityResourceConfig,
  IdentityResourceHandler,
  IdentityResourceRead,
  ResourceHost,
} from './identity-resource.ts';
export type {
  IdentityToolConfig,
  IdentityToolHandler,
  IdentityToolInvocation,
  ToolContext,
  ToolHost,
} from './identity-tool.ts';
export type { ListFiltering } from './list-filter.ts';
// Operations: opt-in health, readiness and metrics for a boundary.
export {
  BOUNDARY_SERIES,
  BoundaryOperations,
  type BoundaryOperationsOptions,
  envelopeKeysCheck,
} from './operations.ts';
export type { InputAttributeType } from './policy/request-model.ts';
export { ToolPolicy, type ToolPolicyDecision, type ToolPolicyOptions } from './policy/tool-policy.ts';
// Rate limits (issue #12 item 6).
export type { BoundaryRateLimits, ToolCallLimited, ToolLimitKind } from './rate-limit/tool-limits.ts';
export { TOKEN_WITHHELD } from './request-context.ts';
export { type HopSpan, startHopSpan } from './telemetry.ts';
