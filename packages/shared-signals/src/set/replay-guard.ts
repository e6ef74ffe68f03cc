/**
 * Remembers which SETs (by issuer and `jti`) a receiver has taken, until they would be refused as too
 * old anyway. `claim` answers `true` the first time a key is seen and `false` after; it may be async so
 * a shared store (Redis `SET NX PX`) can back it across instances.
 */
export interface ReplayGuard {
  claim(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

export interface MemoryReplayGuardOptions {
  /** The most keys held; when full of live keys a new SET is refused rather than a key forgotten. Default 1,000,000. */
  maxEntries?: number;
  /** Milliseconds now; tests pass their own clock. */
  now?: () => number;
}

/**
 * A bounded in-memory `ReplayGuard` for one receiver instance. Keys are forgotten once expired; it
 * never forgets a live key to make room (a forgotten key is a replay window), so when full it answers
 * `undefined` and the verifier refuses the SET.
 *
 * @example
 * const replay = new MemoryReplayGuard();
 * await verifySecurityEventToken(jwt, { issuer, audience, keys, replay });
 */
export class MemoryReplayGuard implements ReplayGuard {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: MemoryReplayGuardOptions = {}) {
    const maxEntries = options.maxEntries ?? 1_000_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError('maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** `true` the first time; `false` for a key already held; throws `RangeError` when full of live keys. */
  claim(key: string, expiresAtMs: number): boolean {
    const now = this.#now();
    const held = this.#seen.get(key);
    if (held !== undefined && held > now) return false;
    if (held === undefined && this.#seen.size >= this.#maxEntries) {
      this.#sweep(now);
      if (this.#seen.size >= this.#maxEntries) throw new RangeError('replay guard full');
    }
    this.#seen.set(key, expiresAtMs);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#seen) if (expiresAt <= now) this.#seen.delete(key);
  }
}
