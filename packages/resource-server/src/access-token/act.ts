/**
 * The RFC 8693 §4.1 `act` claim: the current actor outermost, earlier actors nested inside, so a token
 * at any hop names every party between the person and the API, in order.
 */
export interface ActClaim {
  sub: string;
  /** Present for actors named by another issuer (the agent, registered at the identity provider). */
  iss?: string;
  act?: ActClaim;
}

/** Wraps the existing chain with a new outermost actor. */
export function withActor(actor: { sub: string; iss?: string }, inner: ActClaim | undefined): ActClaim {
  return { sub: actor.sub, ...(actor.iss ? { iss: actor.iss } : {}), ...(inner ? { act: inner } : {}) };
}

/**
 * The most services an `act` chain may name between the agent and the current hop. It matches the
 * Execution Identity Envelope's `delegation.chain` limit (32): a deeper chain could be accepted here
 * but never form an envelope, so every tool call on it would fail.
 */
export const MAX_DELEGATION_SERVICES = 32;
/** The most actors in one chain: the services and, innermost, the agent. */
const MAX_ACTORS = MAX_DELEGATION_SERVICES + 1;

/** Actors from outermost to innermost. Throws `TypeError` past {@link MAX_DELEGATION_SERVICES} services. */
export function actorsOf(act: ActClaim | undefined): ActClaim[] {
  const actors: ActClaim[] = [];
  for (let current = act; current; current = current.act) {
    actors.push(current);
    if (actors.length > MAX_ACTORS) throw new TypeError('act chain is too deep');
  }
  return actors;
}

/** Parses an untrusted `act` claim value into the typed chain, or `undefined` when it is malformed. */
export function parseAct(value: unknown, depth = 0): ActClaim | undefined {
  if (value === undefined) return undefined;
  if (depth >= MAX_ACTORS) throw new TypeError('act chain is too deep');
  if (value === null || typeof value !== 'object') throw new TypeError('malformed act claim');
  const { sub, iss, act } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '') throw new TypeError('act claim without sub');
  if (iss !== undefined && typeof iss !== 'string') throw new TypeError('act claim with a non-string iss');
  return { sub, ...(iss ? { iss } : {}), ...(act !== undefined ? { act: parseAct(act, depth + 1) } : {}) };
}

/**
 * Who acted, from validated token claims: the agent (innermost actor, or the client the token was
 * issued to when there is no `act`) and the services in between, most recent first.
 * Throws `TypeError` on a malformed `act`.
 */
export function delegationOf(claims: { clientId: string; claims: Readonly<Record<string, unknown>> }): {
  agent: string;
  services: string[];
} {
  const act = parseAct(claims.claims.act);
  if (!act) return { agent: claims.clientId, services: [] };
  const actors = actorsOf(act).map((actor) => actor.sub);
  return { agent: actors.at(-1)!, services: actors.slice(0, -1) };
}
