/**
 * What a receiver knows has been revoked, in the terms it can match against a token it verified
 * locally: the token itself (`jti`), the person (`sub`), the identity-provider session (`sid`), or a
 * client (`client_id`, `azp`, or any actor of the RFC 8693 `act` chain: a compromised service or
 * agent stops every chain it sits in). A root-grant revocation reaches receivers as the `jti`s of
 * every token of that grant, the identity provider's own included, because receivers never see the
 * broker's registry.
 */
export type RevocationKind = 'jti' | 'subject' | 'session' | 'client';

export interface Revocation {
  kind: RevocationKind;
  value: string;
  /**
   * Tokens issued (`iat`) strictly before this Unix second are refused; a token without `iat` is
   * refused too. Absent: every token, whatever its `iat`, until the revocation is lifted (a disabled
   * account or client). Always absent for `jti`.
   */
  before?: number;
  /**
   * Unix seconds after which no token it covers can still be valid, so the entry may be forgotten.
   * Absent: kept until lifted.
   */
  until?: number;
  /**
   * When it was made (the event's time), Unix seconds: a lift made before it does not undo it, however
   * late the revocation arrives. Absent: when it is added here.
   */
  at?: number;
}

/** A revocation lifted (a person or client enabled again), and when: a lift older than the revocation it meets is ignored. */
export type RevocationLift = Pick<Revocation, 'kind' | 'value'> & { at?: number };

/** Why a token was refused: the audit reason and the `error_description` family at every hop. */
export type RevocationReason = 'token_revoked' | 'subject_revoked' | 'session_revoked' | 'client_revoked';

export const REVOCATION_REASONS: Readonly<Record<RevocationKind, RevocationReason>> = Object.freeze({
  jti: 'token_revoked',
  subject: 'subject_revoked',
  session: 'session_revoked',
  client: 'client_revoked',
});

/** The first revocation a token falls under. */
export interface RevokedToken {
  reason: RevocationReason;
  kind: RevocationKind;
}

/** What a revocation listener (a cache that must drop what a revocation covers) is told. */
export type RevocationListener = (change: {
  added: readonly Revocation[];
  lifted: readonly RevocationLift[];
}) => void;

export interface RevocationListOptions {
  /**
   * The most entries held before the list stops admitting tokens (every check then answers
   * `revocation_list_full`, failing closed) rather than forget a revocation still in force.
   * Default 1,000,000.
   */
  maxEntries?: number;
  /** Unix seconds now; tests pass their own clock. */
  now?: () => number;
  /**
   * How long after a lift the tokens issued before it stay refused, seconds: the longest lifetime of a
   * token this receiver accepts. Default 86,400.
   */
  retainSeconds?: number;
}

/** An entry as held: the latest `before` wins only if it covers more (a later instant, or "all"). */
interface Held {
  before: number;
  until: number;
  /** The latest revocation's time: lifts made at or before it are ignored (a tie goes to the revocation). */
  at: number;
  /** The latest lift's time: revocations made at or before it, arriving late, are ignored. */
  lifted: number;
}

const ALL = Number.POSITIVE_INFINITY;
const FOREVER = Number.POSITIVE_INFINITY;
const MAX_ACTORS = 32;

/**
 * The bounded revocation set one receiver instance checks on every request, in memory, without I/O:
 * four maps, so a check is a handful of lookups (`npm run bench -- revocation` measures it). Fed by a
 * Shared Signals stream (push or poll), the Redis fast path between instances of one deployment, or
 * the broker in process; each entry lives as long as the longest token it could cover (`until`).
 */
export class RevocationList {
  readonly #maps: Record<RevocationKind, Map<string, Held>> = {
    jti: new Map(),
    subject: new Map(),
    session: new Map(),
    client: new Map(),
  };
  readonly #listeners = new Set<RevocationListener>();
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #retainSeconds: number;
  #size = 0;
  #nextSweep = 0;

  constructor(options: RevocationListOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 1_000_000;
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.#retainSeconds = options.retainSeconds ?? 86_400;
  }

  get size(): number {
    return this.#size;
  }

  /** True once more entries are held than `maxEntries`: every check refuses. */
  get full(): boolean {
    return this.#size > this.#maxEntries;
  }

  /** Adds revocations (idempotent: a revocation already held that covers as much changes nothing). */
  add(revocations: readonly Revocation[]): void {
    const now = this.#now();
    const added: Revocation[] = [];
    for (const revocation of revocations) {
      const until = revocation.until ?? FOREVER;
      if (until <= now) continue;
      const before = revocation.kind === 'jti' ? ALL : (revocation.before ?? ALL);
      const map = this.#maps[revocation.kind];
      const held = map.get(revocation.value);
      const at = revocation.at ?? now;
      // Superseded: a lift made after it already reached this list (it arrived late, or again).
      if (held && at < held.lifted) continue;
      if (held && held.before >= before && held.until >= until && held.at >= at) continue;
      if (!held) this.#size++;
      map.set(revocation.value, {
        before: Math.max(before, held?.before ?? 0),
        until: Math.max(until, held?.until ?? 0),
        at: Math.max(at, held?.at ?? 0),
        lifted: held?.lifted ?? Number.NEGATIVE_INFINITY,
      });
      added.push(revocation);
    }
    if (now >= this.#nextSweep) this.sweep(now);
    if (added.length) this.#tell({ added, lifted: [] });
  }

  /**
   * Lifts revocations (an account or client enabled again). A lift does not forget: the tokens issued
   * before it stay refused (for `retainSeconds`), so re-enabling a person revives none of the tokens
   * that were stolen or leaked while they were disabled. A lift made before the revocation it meets (an
   * older `account-enabled` delivered after a newer `account-disabled`) is ignored.
   */
  lift(revocations: readonly RevocationLift[]): void {
    const now = this.#now();
    const lifted: RevocationLift[] = [];
    for (const revocation of revocations) {
      const map = this.#maps[revocation.kind];
      const held = map.get(revocation.value);
      if (!held) continue;
      const at = revocation.at ?? now;
      // Ordered by when each was made, not when it arrived; a tie goes to the revocation.
      if (at <= held.at) continue;
      if (revocation.kind === 'jti' || revocation.kind === 'session') continue;
      // Tokens stamped in the lift's own second stay refused too: they may predate it.
      const before = Math.min(held.before, at + 1);
      const until = Math.min(held.until, Math.max(at, now) + this.#retainSeconds);
      map.set(revocation.value, { before, until, at: held.at, lifted: Math.max(at, held.lifted) });
      if (before === held.before && until === held.until) continue;
      lifted.push(revocation);
    }
    if (lifted.length) this.#tell({ added: [], lifted });
  }

  /**
   * The revocation that refuses a token with these (already verified) claims, or `undefined`. Reads
   * `jti`, `sub`, `iat`, `sid`, `client_id`, `azp` and every `act.sub`; a malformed `act` was refused
   * by the verifier before this is asked.
   */
  check(
    claims: Readonly<Record<string, unknown>>,
  ): RevokedToken | { reason: 'revocation_list_full' } | undefined {
    if (this.#size === 0) return undefined;
    if (this.#size > this.#maxEntries) return { reason: 'revocation_list_full' };
    const iat = typeof claims.iat === 'number' ? claims.iat : Number.NEGATIVE_INFINITY;
    if (this.#maps.jti.size && typeof claims.jti === 'string' && this.#covers('jti', claims.jti, iat)) {
      return { reason: 'token_revoked', kind: 'jti' };
    }
    if (
      this.#maps.subject.size &&
      typeof claims.sub === 'string' &&
      this.#covers('subject', claims.sub, iat)
    ) {
      return { reason: 'subject_revoked', kind: 'subject' };
    }
    if (
      this.#maps.session.size &&
      typeof claims.sid === 'string' &&
      this.#covers('session', claims.sid, iat)
    ) {
      return { reason: 'session_revoked', kind: 'session' };
    }
    if (this.#maps.client.size && this.#clientRevoked(claims, iat)) {
      return { reason: 'client_revoked', kind: 'client' };
    }
    return undefined;
  }

  /** Every entry held, for a new stream's seed or an operator listing. */
  *entries(): IterableIterator<Revocation> {
    for (const kind of Object.keys(this.#maps) as RevocationKind[]) {
      for (const [value, held] of this.#maps[kind]) {
        yield {
          kind,
          value,
          ...(kind !== 'jti' && held.before !== ALL ? { before: held.before } : {}),
          ...(held.until !== FOREVER ? { until: held.until } : {}),
        };
      }
    }
  }

  /** Forgets entries whose `until` has passed. Runs on its own at most once a minute as entries are added. */
  sweep(now = this.#now()): void {
    for (const map of Object.values(this.#maps)) {
      for (const [value, held] of map) {
        if (held.until <= now) {
          map.delete(value);
          this.#size--;
        }
      }
    }
    this.#nextSweep = now + 60;
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #covers(kind: RevocationKind, value: string, iat: number): boolean {
    const held = this.#maps[kind].get(value);
    return held !== undefined && iat < held.before && held.until > this.#now();
  }

  #clientRevoked(claims: Readonly<Record<string, unknown>>, iat: number): boolean {
    if (typeof claims.client_id === 'string' && this.#covers('client', claims.client_id, iat)) return true;
    if (typeof claims.azp === 'string' && this.#covers('client', claims.azp, iat)) return true;
    let actor = claims.act as { sub?: unknown; act?: unknown } | undefined;
    for (let depth = 0; actor && typeof actor === 'object' && depth < MAX_ACTORS; depth++) {
      if (typeof actor.sub === 'string' && this.#covers('client', actor.sub, iat)) return true;
      actor = actor.act as typeof actor;
    }
    return false;
  }

  #tell(change: Parameters<RevocationListener>[0]): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch {
        // A cache that fails to drop an entry must not stop the revocation reaching the others.
      }
    }
  }
}
