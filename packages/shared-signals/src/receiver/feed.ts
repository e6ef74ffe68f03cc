import { RevocationList, type RevokedToken } from '../revocation.ts';

/** What a boundary does while its feed is stale: refuse every token (fail closed) or ask the broker. */
export type StaleFallback = 'refuse' | 'introspect';

/** The feed's verdict on a token: `undefined` admits it. */
export type FeedVerdict =
  | RevokedToken
  | { reason: 'revocation_list_full' }
  | { reason: 'revocation_feed_stale'; fallback: StaleFallback }
  | undefined;

export interface RevocationFeedOptions {
  /** The list the feed's transports fill. Default: a new `RevocationList()`. */
  list?: RevocationList;
  /**
   * How long without word from a source (a poll response, a pushed SET, a verification event, a Redis
   * read) before the feed is stale, milliseconds. Default 30,000.
   */
  maxStalenessMs?: number;
  /** Default `'refuse'`. */
  whenStale?: StaleFallback;
  /** Milliseconds now (monotonic is fine); tests pass their own clock. */
  now?: () => number;
}

/** One transport feeding the list, as the feed tracks it. */
export interface FeedSource {
  readonly name: string;
  /** The transmitter (or Redis) was heard from just now: a response, a SET, a verification event. */
  heard(): void;
  /** The connection is known to be down: the feed is stale at once, until `heard()`. */
  lost(): void;
  /**
   * The transmitter says the stream is paused or disabled (SSF stream-updated): the feed is stale,
   * whatever else is heard, until it says `enabled` again.
   */
  streamEnabled(enabled: boolean): void;
  /** Stops tracking this source (its transport was closed on purpose). */
  remove(): void;
}

/** A source's state, for health endpoints and logs. */
export interface SourceFreshness {
  name: string;
  /** Milliseconds (the feed's clock) of the last word; `undefined` if never heard or lost since. */
  lastHeardMs: number | undefined;
  stale: boolean;
}

interface Tracked {
  name: string;
  lastHeard: number;
  disabled: boolean;
}

/**
 * The revocation state one boundary holds: its `RevocationList` and how fresh the transports that
 * fill it are. `check(claims)` is the per-request question, synchronous and allocation-free when it
 * admits: revoked, list full, stale (with the configured fallback) or `undefined`. A source that was
 * never heard from is stale, so a boundary refuses (or introspects) until its feed has caught up. A
 * feed without sources (the broker in process) is never stale.
 *
 * @example
 * const feed = new RevocationFeed({ maxStalenessMs: 30_000, whenStale: 'refuse' });
 * const verdict = feed.check(claims);
 * if (verdict?.reason === 'revocation_feed_stale' && verdict.fallback === 'introspect') return introspect(token);
 * if (verdict) return refuse(verdict.reason);
 */
export class RevocationFeed {
  readonly list: RevocationList;
  readonly maxStalenessMs: number;
  readonly whenStale: StaleFallback;
  readonly #now: () => number;
  readonly #sources: Tracked[] = [];
  readonly #stale: { reason: 'revocation_feed_stale'; fallback: StaleFallback };
  #verification: { state: string; atMs: number } | undefined;

  constructor(options: RevocationFeedOptions = {}) {
    const maxStalenessMs = options.maxStalenessMs ?? 30_000;
    if (!Number.isFinite(maxStalenessMs) || maxStalenessMs <= 0) {
      throw new TypeError('maxStalenessMs must be a positive number of milliseconds');
    }
    const whenStale = options.whenStale ?? 'refuse';
    if (whenStale !== 'refuse' && whenStale !== 'introspect') {
      throw new TypeError("whenStale must be 'refuse' or 'introspect'");
    }
    this.list = options.list ?? new RevocationList();
    this.maxStalenessMs = maxStalenessMs;
    this.whenStale = whenStale;
    this.#now = options.now ?? Date.now;
    this.#stale = Object.freeze({ reason: 'revocation_feed_stale', fallback: whenStale });
  }

  /** Registers a transport; it is stale until first heard from. */
  source(name: string): FeedSource {
    const tracked: Tracked = { name, lastHeard: Number.NEGATIVE_INFINITY, disabled: false };
    this.#sources.push(tracked);
    return {
      name,
      heard: () => {
        tracked.lastHeard = this.#now();
      },
      lost: () => {
        tracked.lastHeard = Number.NEGATIVE_INFINITY;
      },
      streamEnabled: (enabled) => {
        tracked.disabled = !enabled;
      },
      remove: () => {
        const index = this.#sources.indexOf(tracked);
        if (index >= 0) this.#sources.splice(index, 1);
      },
    };
  }

  /** The per-request question: see the class. Reads the same claims as `RevocationList.check`. */
  check(claims: Readonly<Record<string, unknown>>): FeedVerdict {
    const revoked = this.list.check(claims);
    if (revoked !== undefined) return revoked;
    return this.stale ? this.#stale : undefined;
  }

  /** Whether any source has been silent longer than `maxStalenessMs` (or lost, never heard, or its stream paused). */
  get stale(): boolean {
    const sources = this.#sources;
    if (sources.length === 0) return false;
    const oldest = this.#now() - this.maxStalenessMs;
    for (let i = 0; i < sources.length; i++) {
      const source = sources[i] as Tracked;
      if (source.lastHeard < oldest || source.disabled) return true;
    }
    return false;
  }

  /** Each source's state and the last verification event, for health endpoints. */
  get freshness(): {
    stale: boolean;
    sources: SourceFreshness[];
    lastVerification: { state: string; atMs: number } | undefined;
  } {
    const oldest = this.#now() - this.maxStalenessMs;
    return {
      stale: this.stale,
      sources: this.#sources.map(({ name, lastHeard, disabled }) => ({
        name,
        lastHeardMs: Number.isFinite(lastHeard) ? lastHeard : undefined,
        stale: lastHeard < oldest || disabled,
      })),
      lastVerification: this.#verification,
    };
  }

  /** Records an SSF verification event (the caller has verified the SET and marked its source heard). */
  verified(state: string): void {
    this.#verification = { state, atMs: this.#now() };
  }
}
