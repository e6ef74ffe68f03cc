export { withDownstreamIdentity } from './handler.ts';
export type { DownstreamIdentity } from './identity.ts';
export {
  callOfRequest,
  type HandlerAnswer,
  type HandlerOptions,
  serveVerifiedCall,
  type VerifiedCallResult,
  type VerifierCall,
} from './verified-call.ts';
export {
  type DownstreamVerifier,
  type DownstreamVerifierOptions,
  downstreamVerifier,
  type TrustedCaller,
} from './verify.ts';
