/**
 * Every token the broker issues, with where it came from, so that revocation cascades: revoking a
 * token, its root grant, its subject, its identity-provider session or a client in its chain makes it
 * and everything derived from it inactive.
 */
export interface IssuedToken {
  jti: string;
  /** The broker-issued token this one was exchanged from; `null` when the subject came from an IdP. */
  parent: string | null;
  /** The root grant: the identity-provider token at the start of the chain (`<iss>#<jti>`). */
  root: string;
  /** `sub` of the token: the person the whole chain acts for. */
  subject: string;
  clientId: string;
  audience: string;
  /** Unix seconds. */
  exp: number;
  /**
   * Unix seconds the token was issued (its `iat`). Absent on records written before it was kept: a
   * revocation of the subject `before` any instant then covers the token.
   */
  issuedAt?: number;
  /** The identity provider's session (`sid`) the chain started in, when its token carried one. */
  session?: string;
}

/** What the registry refuses by: the kinds receivers know (`@baton/shared-signals`), plus the root grant. */
export type RevocationKindAtBroker = 'jti' | 'root' | 'subject' | 'session' | 'client';

/**
 * What an operator (or SCIM, or a Shared Signals receiver) revokes:
 * - `{ jti }`: one broker-issued token and everything exchanged from it;
 * - `{ root }`: a whole grant (`<iss>#<jti>` of the identity-provider token it started from);
 * - `{ subject, before }`: every token of a person issued (`iat`) strictly before `before` (Unix s);
 *   without `before` the person is disabled: every token, and every new exchange, until `lift`;
 * - `{ session }`: every token of an identity-provider session (`sid`);
 * - `{ client }`: a compromised service or agent: its tokens, every chain it is an actor in, and every
 *   new exchange or `client_credentials` request by it, until `lift`.
 */
export type RevocationTarget =
  | { jti: string }
  | { root: string }
  | { subject: string; before?: number }
  | { session: string }
  | { client: string };

/** What `lift` re-enables: a disabled (or revoked-before) subject, or a revoked client. */
export type LiftTarget = { subject: string } | { client: string };

/**
 * How a lift leaves a subject: with `before`, a disabled subject becomes a cut-off at that instant in one
 * write (its earlier tokens stay refused; never an instant with nothing in force), and a subject that
 * is not disabled is left as it is (false).
 */
export interface LiftOptions {
  before?: number;
}

/** A revocation in force, as `TokenRegistry.listRevocations` lists it. */
export interface RegistryRevocation {
  kind: RevocationKindAtBroker;
  value: string;
  /** Subject only: tokens issued strictly before this Unix second. Absent: all (disabled). */
  before?: number;
}

/** What one revocation covered when it was written. */
export interface RevocationCoverage {
  /** How many unexpired broker-issued tokens it covers (the token itself, descendants, the grant's, …). */
  covered: number;
  /** For `jti` and `root`: each covered token's jti and `exp`, for receivers that match by `jti`. */
  tokens: readonly { jti: string; exp: number }[];
}

/** Why a token is refused by the registry: the same reason codes the receivers use. */
export type RegistryRefusal = 'token_revoked' | 'subject_revoked' | 'session_revoked' | 'client_revoked';

/** A registry's verdict on a broker-issued token: its record when active, or why not. */
export type TokenStatus =
  | { active: true; token: IssuedToken }
  | { active: false; reason: RegistryRefusal | 'token_unknown' };

/**
 * What is known of a token the broker did not record (an identity provider's subject or actor token,
 * a client authenticating): each field is checked against the revocations of its kind.
 */
export interface PresentedToken {
  /** `<iss>#<jti>` of an identity-provider token. */
  root?: string;
  subject?: string;
  /** Its `iat`; absent: any revocation of `subject` covers it. */
  issuedAt?: number;
  session?: string;
  /** Every client the token names: `client_id`, `azp`, each `act.sub`, the requesting client. */
  clients?: readonly string[];
}

/**
 * Where issued-token records and revocations live. The embedded default keeps them durably in one
 * process (PGlite, `openStores({ kind: 'embedded' })`); production deployments share one across broker
 * instances (PostgreSQL for records, Redis for revocation sets), so a revocation on one instance is seen
 * by all at once; `MemoryTokenRegistry` forgets everything on restart (tests, the demo).
 */
export interface TokenRegistry {
  record(token: IssuedToken): Promise<void>;
  find(jti: string): Promise<IssuedToken | undefined>;
  /** Writes a revocation (idempotent; a subject's later `before`, or none, widens it) and counts what it covers. */
  revoke(target: RevocationTarget, now?: number): Promise<RevocationCoverage>;
  /** Lifts a subject's or a client's revocation; true when one was in force. */
  lift(target: LiftTarget, options?: LiftOptions): Promise<boolean>;
  /**
   * The revocations in force by subject, session, client and root; by jti too with `{ tokens: true }`
   * (per token, so left out of operator listings; a new Shared Signals stream is seeded with them).
   */
  listRevocations(options?: { tokens?: boolean }): Promise<RegistryRevocation[]>;
  /**
   * Whether `jti` is known, unexpired, and neither it nor any ancestor is revoked, by itself, its root,
   * its subject, its session or a client in its chain. `now` in Unix seconds.
   */
  isActive(jti: string, now: number): Promise<boolean>;
  /**
   * The record of `jti` when it is active (as `isActive` decides), in the same lookup; `undefined`
   * otherwise. The exchange reads a broker-issued subject token's root grant this way.
   */
  findActive(jti: string, now: number): Promise<IssuedToken | undefined>;
  /**
   * `findActive`, saying why a token is not active. `clients` (the actors of its `act` chain, the
   * client presenting it) are checked against client revocations in the same lookup.
   */
  status(jti: string, now: number, clients?: readonly string[]): Promise<TokenStatus>;
  /** Why a token the broker did not record is revoked (root, subject, session or client), or `undefined`. */
  refusalOf(token: PresentedToken): Promise<RegistryRefusal | undefined>;
  close(): Promise<void>;
}

const MAX_ACTORS = 32;

/** Every client a token names: `client_id`, `azp`, and each actor of its `act` chain. */
export function clientsOf(claims: Readonly<Record<string, unknown>>, clientId: string): string[] {
  const clients = new Set<string>(clientId ? [clientId] : []);
  if (typeof claims.azp === 'string') clients.add(claims.azp);
  let actor = claims.act as { sub?: unknown; act?: unknown } | undefined;
  for (let depth = 0; actor && typeof actor === 'object' && depth < MAX_ACTORS; depth++) {
    if (typeof actor.sub === 'string') clients.add(actor.sub);
    actor = actor.act as typeof actor;
  }
  return [...clients];
}

/** What the shared walk asks of a registry's revocations (already fetched, or held in memory). */
export interface RevocationLookup {
  /** Whether `value` is revoked by `kind` (jti, root, session or client). */
  has(kind: Exclude<RevocationKindAtBroker, 'subject'>, value: string): boolean;
  /** The subject's revocation: tokens before this instant (`Infinity`: disabled), or `undefined`. */
  subjectBefore(subject: string): number | undefined;
}

/** Whether a subject revocation `before` covers a token issued at `issuedAt` (unknown: covered). */
export function subjectCovers(before: number | undefined, issuedAt: number | undefined): boolean {
  return before !== undefined && (issuedAt === undefined || issuedAt < before);
}

/** The first revocation a presented (unrecorded) token falls under. */
export function presentedRefusal(
  revoked: RevocationLookup,
  token: PresentedToken,
): RegistryRefusal | undefined {
  if (token.root !== undefined && revoked.has('root', token.root)) return 'token_revoked';
  if (token.subject !== undefined && subjectCovers(revoked.subjectBefore(token.subject), token.issuedAt)) {
    return 'subject_revoked';
  }
  if (token.session !== undefined && revoked.has('session', token.session)) return 'session_revoked';
  for (const client of token.clients ?? []) if (revoked.has('client', client)) return 'client_revoked';
  return undefined;
}

/**
 * The ancestor walk shared by registries: bounded, because chains are bounded by policy. A token is
 * refused when it or any ancestor is revoked (by jti, by its subject issued before the cut-off, by its
 * session, or by the client it was issued to), or the grant's root is.
 */
export async function tokenStatus(
  registry: Pick<TokenRegistry, 'find'>,
  revoked: RevocationLookup,
  jti: string,
  now: number,
  clients: readonly string[] = [],
  maxHops = 32,
): Promise<TokenStatus> {
  const first = await registry.find(jti);
  if (!first || first.exp <= now) return { active: false, reason: 'token_unknown' };
  if (revoked.has('root', first.root)) return { active: false, reason: 'token_revoked' };
  if (clients.some((client) => revoked.has('client', client)))
    return { active: false, reason: 'client_revoked' };
  const before = revoked.subjectBefore(first.subject);
  let current: IssuedToken | undefined = first;
  for (let hop = 0; current && hop < maxHops; hop++) {
    if (revoked.has('jti', current.jti)) return { active: false, reason: 'token_revoked' };
    if (subjectCovers(before, current.issuedAt)) return { active: false, reason: 'subject_revoked' };
    if (current.session !== undefined && revoked.has('session', current.session)) {
      return { active: false, reason: 'session_revoked' };
    }
    if (revoked.has('client', current.clientId)) return { active: false, reason: 'client_revoked' };
    if (current.parent === null) return { active: true, token: first };
    current = await registry.find(current.parent);
  }
  // A missing ancestor (expired and forgotten) cannot vouch for its descendants.
  return { active: false, reason: 'token_unknown' };
}

/** The record of `jti` when the ancestor walk finds it active, else `undefined`. */
export async function activeRecord(
  registry: Pick<TokenRegistry, 'find'>,
  revoked: RevocationLookup,
  jti: string,
  now: number,
  maxHops = 32,
): Promise<IssuedToken | undefined> {
  const status = await tokenStatus(registry, revoked, jti, now, [], maxHops);
  return status.active ? status.token : undefined;
}

/** The kind and value of a target (exactly one named, a non-empty string); anything else is a programming error. */
export function targetOf(target: RevocationTarget): {
  kind: RevocationKindAtBroker;
  value: string;
  before?: number;
} {
  const kinds = ['jti', 'root', 'subject', 'session', 'client'] as const;
  const record = typeof target === 'object' && target !== null ? (target as Record<string, unknown>) : {};
  const named = kinds.filter((key) => record[key] !== undefined);
  const kind = named[0];
  const value = kind && record[kind];
  if (named.length !== 1 || !kind || typeof value !== 'string' || value.length === 0) {
    throw new TypeError(
      'a revocation target names exactly one of jti, root, subject, session or client, as a non-empty string',
    );
  }
  const before = record.before;
  if (
    before !== undefined &&
    (kind !== 'subject' || !Number.isSafeInteger(before) || (before as number) < 0)
  ) {
    throw new TypeError('before is a Unix second, and only for a subject');
  }
  return { kind, value, ...(before !== undefined ? { before: before as number } : {}) };
}

/** The kind and value of a lift target: a subject or a client. */
export function liftOf(target: LiftTarget): { kind: 'subject' | 'client'; value: string } {
  const record = typeof target === 'object' && target !== null ? (target as Record<string, unknown>) : {};
  const named = (['subject', 'client'] as const).filter((key) => record[key] !== undefined);
  const kind = named[0];
  const value = kind && record[kind];
  if (named.length !== 1 || !kind || typeof value !== 'string' || value.length === 0) {
    throw new TypeError('lift names exactly one of subject or client, as a non-empty string');
  }
  return { kind, value };
}

/** A subject's `before` merged with a new one: the later instant, and "all" (Infinity) over any. */
export function widerBefore(held: number | undefined, next: number): number {
  return held === undefined ? next : Math.max(held, next);
}
