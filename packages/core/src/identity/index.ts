export { type ActClaim, actorsOf, MAX_DELEGATION_SERVICES, parseAct, withActor } from './act.ts';
export type { ValidatedClaims } from './claims.ts';
export {
  type ActorType,
  type ActorTypeRule,
  defaultActorType,
  delegationModeOf,
  delegationOf,
  type Identity,
  type IdentityOptions,
  identityFromClaims,
  sessionOf,
  tenantOf,
} from './identity.ts';
