export {
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
export type { AudienceConfig, PlatformTokenSource } from './audience.ts';
export { type Broker, type BrokerOptions, startBroker } from './broker.ts';
export type { BrokerLogger } from './grants/audited-grant.ts';
export { AUTHORIZATION_GRANT_TYP, ID_JAG_TYP } from './jwt-bearer/assertion.ts';
export { JWT_BEARER_GRANT } from './jwt-bearer/grant.ts';
export {
  type ForeignDomain,
  type HomeDomain,
  ID_JAG_DRAFT,
  IDENTITY_CHAINING_DRAFT,
  type IdentityAssertionGrantOptions,
  type IdentityChainingOptions,
} from './jwt-bearer/options.ts';
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
export type { BrokerScimOptions } from './scim/broker-scim.ts';
export { MemoryScimStore } from './scim/memory-store.ts';
export {
  createScimService,
  SCIM_CONTENT_TYPE,
  type ScimAuthenticator,
  type ScimService,
  type ScimServiceOptions,
} from './scim/scim-service.ts';
export {
  type ScimRecord,
  type ScimResourceType,
  type ScimStore,
  ScimUniquenessConflict,
} from './scim/scim-store.ts';
export { SqlScimStore, type SqlScimStoreOptions } from './scim/sql-store.ts';
export type {
  LifecycleContext,
  ScimLifecycleReason,
  SubjectLifecycle,
  SubjectRevocation,
} from './scim/subject-lifecycle.ts';
export type { BrokerDpopOptions, ClientCertificateMode } from './sender-constraint/features.ts';
export type { BrokerTlsOptions } from './sender-constraint/tls-listener.ts';
export {
  IDENTITY_PROVIDER_SIGNALS_PATH,
  type IdentityProviderSignalsOptions,
} from './shared-signals/identity-provider-signals.ts';
export { sharedSignalsAudience } from './shared-signals/receiver-token.ts';
export type { BrokerSharedSignalsOptions } from './shared-signals/transmitter.ts';
export type { ExchangeRateLimits } from './token-exchange/checks/rate-limit.ts';
export type { TrustedIssuer } from './token-exchange/input-token.ts';
