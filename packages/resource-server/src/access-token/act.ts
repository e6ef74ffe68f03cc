/**
 * The RFC 8693 `act` chain lives in `@baton/core`, the one parser every hop uses; re-exported here so
 * that code importing it from `@baton/resource-server` keeps working.
 */
export { type ActClaim, actorsOf, delegationOf, parseAct, withActor } from '@baton/core';
