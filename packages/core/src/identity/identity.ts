import type { DelegationMode } from '../delegation-mode.ts';
import { actorsOf, parseAct } from './act.ts';
import type { ValidatedClaims } from './claims.ts';

/** Whether a person stands behind a token (`user`) or only a machine (`service`). */
export type ActorType = 'user' | 'service';

/** Tells people from machines for one deployment's issuers, from validated claims only. */
export type ActorTypeRule = (claims: ValidatedClaims) => ActorType;

/**
 * Who a call is for, who carries it out, and under what authority: the one identity every hop works
 * from (the MCP boundary's envelope, tool context and audit; the broker's exchange; the downstream
 * verifier). Frozen; it holds no token.
 */
export interface Identity {
  /** Who the call is for: the person, or the machine acting as itself. */
  readonly actor: { readonly type: ActorType; readonly sub: string; readonly tenant: string | null };
  /** The agent: the innermost actor of `act`, or the client the token was issued to when there is none. */
  readonly agent: string;
  /** The client that presented this token (`client_id`): the outermost actor, or the agent itself. */
  readonly client: string;
  /** The session calls on one grant correlate on (see {@link sessionOf}). */
  readonly session: string;
  readonly scopes: readonly string[];
  readonly delegation: {
    /** How this token delegates (see {@link delegationModeOf}). */
    readonly mode: DelegationMode;
    /** The services between the agent and this hop, most recent first (outermost `act` first). */
    readonly services: readonly string[];
    /** Every party between the person and this hop: the services, most recent first, then the agent. */
    readonly chain: readonly string[];
  };
  /** The token it was derived from, by reference only. */
  readonly token: {
    readonly issuer: string;
    readonly id: string | undefined;
    readonly issuedAt: number | undefined;
    readonly expiresAt: number;
  };
}

export interface IdentityOptions {
  /**
   * Whether a person stands behind the token: a decided type, or a deployment's rule. Default
   * {@link defaultActorType}, answered from the chain parsed here (no second parse).
   */
  actorType?: ActorType | ActorTypeRule;
  /**
   * The grant the token descends from, when the caller knows it (the broker's root grant): the
   * session when the token names no `sid`.
   */
  grant?: string;
}

/**
 * Derives the identity from validated token claims, the one place the rules live. Nothing here reads
 * a request body, tool input or model output:
 *
 * - actor: `sub`, typed by `options.actorType` (default {@link defaultActorType});
 * - tenant: the `tenant` claim when it is a string, else `tid` (Entra's name for it), else null; a
 *   `tid` never overrides a `tenant` ({@link tenantOf});
 * - agent and chain: from the one `act` parser, the agent innermost (or `client_id` without `act`),
 *   the services outside it, most recent first; the chain is the services then the agent;
 * - session: `sid` when a non-empty string, else `options.grant`, else the token id (`jti`), else
 *   `client_id:sub:iat` (or `exp` without `iat`), so calls on one grant correlate ({@link sessionOf});
 * - mode: `on_behalf_of` with `act`, `service_identity` for a machine's own token (`sub` =
 *   `client_id`, no `act`), otherwise `restricted_user` ({@link delegationModeOf});
 * - scopes and token id and times as validated.
 *
 * Throws `TypeError` on a malformed `act` (not an object, no `sub`, a non-string `iss`) or one naming
 * more than `MAX_DELEGATION_SERVICES` services: callers refuse the token (`invalid_token`). It checks
 * no signature, audience or lifetime: give it claims a verifier has validated.
 *
 * @example
 * const identity = identityFromClaims(await verifier.verify(token));
 * identity.actor; // { type: 'user', sub: 'alice', tenant: 'acme' }
 * identity.delegation.chain; // ['orders-mcp', 'agent']
 */
export function identityFromClaims(claims: ValidatedClaims, options: IdentityOptions = {}): Identity {
  const act = parseAct(claims.claims.act);
  const actors = act ? actorsOf(act).map((actor) => actor.sub) : undefined;
  const agent = actors ? actors[actors.length - 1]! : claims.clientId;
  const services = actors ? actors.slice(0, -1) : [];
  const rule = options.actorType;
  const type =
    rule === undefined ? actorTypeFromChain(claims, agent) : typeof rule === 'function' ? rule(claims) : rule;
  if (type !== 'user' && type !== 'service')
    throw new TypeError('the actor type is neither user nor service');
  return Object.freeze({
    actor: Object.freeze({ type, sub: claims.subject, tenant: tenantOf(claims) }),
    agent,
    client: claims.clientId,
    session: sessionOf(claims, options.grant),
    scopes: Object.freeze([...claims.scopes]),
    delegation: Object.freeze({
      mode: delegationModeOf(claims),
      services: Object.freeze(services),
      chain: Object.freeze([...services, agent]),
    }),
    token: Object.freeze({
      issuer: claims.issuer,
      id: claims.tokenId,
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
    }),
  });
}

/**
 * The tenant rule: the `tenant` claim when it is a string, else `tid` (as Entra issues it), else null.
 *
 * @example
 * tenantOf({ ...claims, claims: { tenant: 'acme', tid: 'other' } }); // 'acme'
 */
export function tenantOf(claims: Pick<ValidatedClaims, 'claims'>): string | null {
  const { tenant, tid } = claims.claims;
  return typeof tenant === 'string' ? tenant : typeof tid === 'string' ? tid : null;
}

/**
 * The session rule: the identity provider's session (`sid`) when a non-empty string, else the grant
 * the token descends from (`grant`, when the caller knows it), else the token id, else
 * `client_id:sub:iat` (or `exp`), so calls on one grant correlate.
 *
 * @example
 * sessionOf(claims, root); // claims.claims.sid, or root
 */
export function sessionOf(
  claims: Pick<ValidatedClaims, 'claims' | 'tokenId' | 'clientId' | 'subject' | 'issuedAt' | 'expiresAt'>,
  grant?: string,
): string {
  const { sid } = claims.claims;
  if (typeof sid === 'string' && sid !== '') return sid;
  if (grant) return grant;
  return claims.tokenId ?? `${claims.clientId}:${claims.subject}:${claims.issuedAt ?? claims.expiresAt}`;
}

/**
 * The delegation-mode rule: `on_behalf_of` for a token naming actors in `act`; `service_identity`
 * for a machine's own token (`sub` = `client_id`, RFC 9068 §2.2, no `act`); otherwise
 * `restricted_user`, a token for the person alone (an identity provider's token the agent presents
 * reads the same way). A component that decides the mode itself, such as the MCP boundary's
 * configured delegation policy, records its own.
 */
export function delegationModeOf(
  claims: Pick<ValidatedClaims, 'claims' | 'subject' | 'clientId'>,
): DelegationMode {
  if (claims.claims.act !== undefined) return 'on_behalf_of';
  return claims.subject === claims.clientId ? 'service_identity' : 'restricted_user';
}

/**
 * The default rule telling people from machines: a token whose subject is the client it was issued
 * to has no person behind it (RFC 9068 §2.2: client credentials). After a token exchange the token is
 * issued to the service that exchanged it, so the subject is compared with the agent too (the
 * innermost `act`, where the chain started): a machine's token passed on by the broker stays a
 * machine's at every hop. A malformed `act` is a machine (fail safe: machines are refused unless a
 * server lets them in).
 *
 * @example
 * defaultActorType({ ...claims, subject: 'svc', clientId: 'svc' }); // 'service'
 */
export const defaultActorType: ActorTypeRule = (claims) => {
  if (claims.subject === claims.clientId) return 'service';
  if (claims.claims.act === undefined) return 'user';
  let agent: string;
  try {
    agent = delegationOf(claims).agent;
  } catch {
    return 'service';
  }
  return agent === claims.subject ? 'service' : 'user';
};

/**
 * Who acted, from validated claims: the agent (innermost actor, or the client the token was issued
 * to when there is no `act`) and the services in between, most recent first. Throws `TypeError` on
 * a malformed `act`. {@link identityFromClaims} answers this too; use this where only the chain is needed.
 *
 * @example
 * delegationOf(claims); // { agent: 'agent', services: ['orders-mcp'] }
 */
export function delegationOf(claims: Pick<ValidatedClaims, 'clientId' | 'claims'>): {
  agent: string;
  services: string[];
} {
  const act = parseAct(claims.claims.act);
  if (!act) return { agent: claims.clientId, services: [] };
  const actors = actorsOf(act).map((actor) => actor.sub);
  return { agent: actors.at(-1)!, services: actors.slice(0, -1) };
}

function actorTypeFromChain(claims: ValidatedClaims, agent: string): ActorType {
  if (claims.subject === claims.clientId) return 'service';
  return agent === claims.subject ? 'service' : 'user';
}
