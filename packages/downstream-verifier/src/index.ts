export { type HandlerOptions, withDownstreamIdentity } from './handler.ts';
export type { DownstreamIdentity } from './identity.ts';
export {
  type DownstreamVerifier,
  type DownstreamVerifierOptions,
  downstreamVerifier,
  type TrustedCaller,
} from './verify.ts';
