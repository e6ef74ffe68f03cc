export { DELEGATION_MODES, type DelegationMode, isDelegationMode } from './delegation-mode.ts';
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
