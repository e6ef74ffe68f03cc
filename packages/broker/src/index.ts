export {
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
export type { AudienceConfig, PlatformTokenSource } from './audience.ts';
export { type Broker, type BrokerOptions, startBroker } from './broker.ts';
export type { BrokerLogger } from './grants/audited-grant.ts';
export type {
  ExchangeFacts,
  IssuanceMode,
  IssuedTokenKind,
  PolicyDecision,
  PolicyEngine,
  PolicyMode,
  PolicyRefusal,
} from './policy/facts.ts';
export type { ClientApproval, RegistrationApproval } from './registration/approvals.ts';
export { MemoryTokenRegistry } from './registry/memory-registry.ts';
export type {
  IssuedToken,
  LiftTarget,
  PresentedToken,
  RegistryRefusal,
  RegistryRevocation,
  RevocationCoverage,
  RevocationTarget,
  TokenRegistry,
  TokenStatus,
} from './registry/token-registry.ts';
export type {
  BrokerRevocationChange,
  BrokerRevocationListener,
  RevocationActor,
  RevokeResult,
} from './revocation/operator-revocation.ts';
export type { TrustedIssuer } from './token-exchange/input-token.ts';
