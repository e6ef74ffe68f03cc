import { type ActorType, defaultActorType } from '@baton/core';
import type { AccessTokenClaims } from './claims.ts';

/** Whether a person stands behind a token (`user`) or only a machine (`service`): `@baton/core`'s `ActorType`. */
export type CallerKind = ActorType;

/**
 * Tells people from machines for one deployment's issuers. Decide from validated claims only: a rule
 * that returns `user` for a machine lets a service act as if a person had authorised it.
 */
export type CallerKindRule = (claims: AccessTokenClaims) => CallerKind;

/**
 * The default rule, `@baton/core`'s `defaultActorType`: a token whose subject is the client it was
 * issued to has no person behind it. RFC 9068 §2.2 asks exactly that of grants without a resource
 * owner (client credentials: `sub` is the client's identifier), and it is what oidc-provider, the
 * Baton broker and most authorization servers issue. After a token exchange the token is issued to
 * the service that exchanged it, so the subject is compared with the agent too (the innermost `act`,
 * where the chain started): a machine's token passed on by the broker stays a machine's at every hop.
 * A malformed `act` is a machine (fail safe: machines are refused unless a server lets them in).
 * Providers that mark app tokens differently (Entra's `idtyp: "app"`, a `token_use` claim) need a
 * rule of their own.
 *
 * @example
 * new IdentityBoundary({ ..., callers: { kind: (claims) => (claims.claims.idtyp === 'app' ? 'service' : defaultCallerKind(claims)) } })
 */
export const defaultCallerKind: CallerKindRule = defaultActorType;
