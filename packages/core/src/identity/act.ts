/**
 * The RFC 8693 §4.1 `act` claim: the current actor outermost, earlier actors nested inside, so a token
 * at any hop names every party between the person and the API, in order.
 */
export interface ActClaim {
  sub: string;
  /** Present for actors named by another issuer (the agent, registered at the identity provider). */
  iss?: string;
  /**
   * The actor's workload identity (a SPIFFE ID, `spiffe://<trust-domain>/<path>`), when the broker
   * authenticated it by a client certificate its trusted CA issued: an extra member of the `act` entry,
   * as RFC 8693 §4.1 allows, recorded by the broker and carried unchanged through later exchanges.
   */
  spiffe_id?: string;
  act?: ActClaim;
}

/**
 * The most services an `act` chain may name between the agent and the current hop. It matches the
 * Execution Identity Envelope's `delegation.chain` limit (32): a deeper chain could be accepted here
 * but never form an envelope, so every tool call on it would fail.
 */
export const MAX_DELEGATION_SERVICES = 32;
/** The most actors in one chain: the services and, innermost, the agent. */
const MAX_ACTORS = MAX_DELEGATION_SERVICES + 1;

/**
 * Wraps the existing chain with a new outermost actor.
 *
 * @example
 * withActor({ sub: 'orders-mcp' }, { sub: 'agent', iss: idp }); // { sub: 'orders-mcp', act: { sub: 'agent', iss: idp } }
 */
export function withActor(
  actor: { sub: string; iss?: string; spiffe_id?: string },
  inner: ActClaim | undefined,
): ActClaim {
  return {
    sub: actor.sub,
    ...(actor.iss ? { iss: actor.iss } : {}),
    ...(actor.spiffe_id ? { spiffe_id: actor.spiffe_id } : {}),
    ...(inner ? { act: inner } : {}),
  };
}

/**
 * Actors from outermost to innermost. Throws `TypeError` past {@link MAX_DELEGATION_SERVICES} services.
 *
 * @example
 * actorsOf(parseAct(claims.act)).map((actor) => actor.sub); // ['billing-mcp', 'orders-mcp', 'agent']
 */
export function actorsOf(act: ActClaim | undefined): ActClaim[] {
  const actors: ActClaim[] = [];
  for (let current = act; current; current = current.act) {
    actors.push(current);
    if (actors.length > MAX_ACTORS) throw new TypeError('act chain is too deep');
  }
  return actors;
}

/**
 * The one parser of an untrusted `act` claim value: the typed chain, `undefined` when there is none.
 * Throws `TypeError` when it is malformed (not an object, no `sub`, a non-string `iss`, a `spiffe_id`
 * that is not a `spiffe://` URI) or names more than {@link MAX_DELEGATION_SERVICES} services. Other
 * members (RFC 8693 §4.1 allows them) are dropped.
 *
 * @example
 * parseAct({ sub: 'orders-mcp', act: { sub: 'agent' } }); // the same chain, typed
 */
export function parseAct(value: unknown, depth = 0): ActClaim | undefined {
  if (value === undefined) return undefined;
  if (depth >= MAX_ACTORS) throw new TypeError('act chain is too deep');
  if (value === null || typeof value !== 'object') throw new TypeError('malformed act claim');
  const { sub, iss, spiffe_id: spiffeId, act } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || sub === '') throw new TypeError('act claim without sub');
  if (iss !== undefined && typeof iss !== 'string') throw new TypeError('act claim with a non-string iss');
  if (spiffeId !== undefined && (typeof spiffeId !== 'string' || !spiffeId.startsWith('spiffe://')))
    throw new TypeError('act claim with a spiffe_id that is not a SPIFFE ID');
  return {
    sub,
    ...(iss ? { iss } : {}),
    ...(spiffeId ? { spiffe_id: spiffeId as string } : {}),
    ...(act !== undefined ? { act: parseAct(act, depth + 1) } : {}),
  };
}
