/**
 * Where the `jti` of every accepted DPoP proof is remembered until the proof could no longer be
 * accepted anyway (its `iat` has left the window), so that a proof is used at most once (RFC 9449
 * §11.1). Instances of one resource must share it (`RedisDpopReplayStore` in
 * `@baton/resource-server/redis`), or a proof replayed at another instance is accepted there.
 */
export interface DpopReplayStore {
  /**
   * Records `jti` until `expiresAtSeconds` (Unix seconds) and answers `true`, or answers `false` when
   * it is already recorded. Throws when it cannot tell: the proof is then refused (fail closed).
   */
  unique(jti: string, expiresAtSeconds: number): Promise<boolean>;
}

/** Default bound of `MemoryDpopReplayStore`. */
export const DEFAULT_DPOP_REPLAY_ENTRIES = 100_000;

/**
 * A `DpopReplayStore` in this process's memory, for a single instance (and tests). Bounded: expired
 * entries are dropped as new ones arrive, and when `maxEntries` live proofs are held it throws
 * instead of forgetting one (forgetting would let that proof be replayed), so the request is refused
 * with 503 until entries expire. Size it for the proofs accepted within one `iat` window.
 *
 * @example
 * const replay = new MemoryDpopReplayStore({ maxEntries: 50_000 });
 */
export class MemoryDpopReplayStore implements DpopReplayStore {
  readonly #maxEntries: number;
  /** jti → expiry (Unix seconds), in insertion order; with one window per store, nearly expiry order. */
  readonly #entries = new Map<string, number>();

  constructor(options: { maxEntries?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_DPOP_REPLAY_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError('MemoryDpopReplayStore: maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  async unique(jti: string, expiresAtSeconds: number): Promise<boolean> {
    const now = Date.now() / 1000;
    const held = this.#entries.get(jti);
    if (held !== undefined && held > now) return false;
    this.#dropExpired(now);
    if (this.#entries.size >= this.#maxEntries)
      throw new Error('MemoryDpopReplayStore: full of unexpired DPoP proofs');
    this.#entries.delete(jti);
    this.#entries.set(jti, expiresAtSeconds);
    return true;
  }

  /** Drops expired entries from the oldest end, stopping at the first live one. */
  #dropExpired(now: number): void {
    for (const [jti, expiresAt] of this.#entries) {
      if (expiresAt > now) break;
      this.#entries.delete(jti);
    }
  }
}
