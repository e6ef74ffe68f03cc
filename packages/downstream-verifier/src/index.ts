export { withDownstreamIdentity } from './handler.ts';
export type { DownstreamIdentity } from './identity.ts';
// Operations: opt-in health, readiness and metrics for a downstream API.
export { VERIFIER_SERIES, VerifierOperations, type VerifierOperationsOptions } from './operations.ts';
export {
  callOfRequest,
  type HandlerAnswer,
  type HandlerOptions,
  serveVerifiedCall,
  type VerifiedCallResult,
  type VerifierCall,
} from './verified-call.ts';
export {
  type DownstreamRequest,
  type DownstreamVerifier,
  type DownstreamVerifierOptions,
  downstreamVerifier,
  type TrustedCaller,
} from './verify.ts';
