export { DELEGATION_MODES, type DelegationMode, isDelegationMode } from './delegation-mode.ts';

// Errors: one family (`BatonError`, `AnyBatonError`), the protocol refusals and their one answer table.
export { type AnyBatonError, isBatonError } from './errors/any-error.ts';
export { BatonError, type BatonErrorCode, type BatonErrorOptions } from './errors/baton-error.ts';
export type {
  AuditStoreErrorCode,
  BatonFailureCode,
  BrokerClientErrorCode,
  BrokerErrorCode,
  ConnectorErrorCode,
  DownstreamErrorCode,
  EnvelopeErrorCode,
  SharedSignalsReceiverErrorCode,
  VaultErrorCode,
  WorkloadIdentityErrorCode,
} from './errors/codes.ts';
export { ProtocolRefusal, type RefusalInit } from './errors/refusal.ts';
export { bearerChallengeError, type RefusalAnswer, refusalAnswer } from './errors/refusal-answer.ts';
export {
  isRefusalCode,
  REFUSAL_ERRORS,
  type RefusalCode,
  type RefusalError,
} from './errors/refusal-errors.ts';

// Identity: the one derivation from validated claims, and the one `act` parser (issue #10, item 1).
export {
  type ActClaim,
  type ActorType,
  type ActorTypeRule,
  actorsOf,
  defaultActorType,
  delegationModeOf,
  delegationOf,
  type Identity,
  type IdentityOptions,
  identityFromClaims,
  MAX_DELEGATION_SERVICES,
  parseAct,
  sessionOf,
  tenantOf,
  type ValidatedClaims,
  withActor,
} from './identity/index.ts';
