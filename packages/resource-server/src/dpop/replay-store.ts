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
   * `holder` is the proof key's thumbprint, for a store that bounds what one key may hold: it throws
   * `DpopReplayQuotaExceeded` then, and only that key's proof is refused.
   */
  unique(jti: string, expiresAtSeconds: number, holder?: string): Promise<boolean>;
}

/** Default bound of `MemoryDpopReplayStore`. */
export const DEFAULT_DPOP_REPLAY_ENTRIES = 100_000;
/**
 * Default bound per proof key of `MemoryDpopReplayStore`: about 150 proofs a second by one key over
 * the default 65-second replay window.
 */
export const DEFAULT_DPOP_REPLAY_ENTRIES_PER_KEY = 10_000;

/** Thrown by a `DpopReplayStore` when one proof key holds as many live proofs as it may. */
export class DpopReplayQuotaExceeded extends Error {
  constructor() {
    super('this DPoP key holds as many unexpired proofs as the replay store allows one key');
    this.name = 'DpopReplayQuotaExceeded';
  }
}

/**
 * A `DpopReplayStore` in this process's memory, for a single instance (and tests). Bounded: expired
 * entries are dropped as new ones arrive, and when `maxEntries` live proofs are held it throws
 * instead of forgetting one (forgetting would let that proof be replayed), so the request is refused
 * with 503 until entries expire. Size it for the proofs accepted within one `iat` window. One key
 * may hold at most `maxEntriesPerKey` of them (it throws `DpopReplayQuotaExceeded` beyond), so that a
 * single client flooding unique proofs is refused itself instead of filling the store for everyone.
 *
 * @example
 * const replay = new MemoryDpopReplayStore({ maxEntries: 50_000, maxEntriesPerKey: 5_000 });
 */
export class MemoryDpopReplayStore implements DpopReplayStore {
  readonly #maxEntries: number;
  readonly #maxEntriesPerKey: number;
  /** jti → expiry (Unix seconds) and holder, in insertion order; with one window per store, nearly expiry order. */
  readonly #entries = new Map<string, { expiresAt: number; holder: string | undefined }>();
  /** holder → how many of `#entries` are its. */
  readonly #held = new Map<string, number>();

  constructor(options: { maxEntries?: number; maxEntriesPerKey?: number } = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_DPOP_REPLAY_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new TypeError('MemoryDpopReplayStore: maxEntries must be a positive integer');
    const maxEntriesPerKey =
      options.maxEntriesPerKey ?? Math.min(maxEntries, DEFAULT_DPOP_REPLAY_ENTRIES_PER_KEY);
    if (!Number.isInteger(maxEntriesPerKey) || maxEntriesPerKey < 1)
      throw new TypeError('MemoryDpopReplayStore: maxEntriesPerKey must be a positive integer');
    this.#maxEntries = maxEntries;
    this.#maxEntriesPerKey = maxEntriesPerKey;
  }

  get size(): number {
    return this.#entries.size;
  }

  async unique(jti: string, expiresAtSeconds: number, holder?: string): Promise<boolean> {
    const now = Date.now() / 1000;
    const held = this.#entries.get(jti);
    if (held !== undefined && held.expiresAt > now) return false;
    this.#dropExpired(now);
    if (holder !== undefined && (this.#held.get(holder) ?? 0) >= this.#maxEntriesPerKey)
      throw new DpopReplayQuotaExceeded();
    if (this.#entries.size >= this.#maxEntries)
      throw new Error('MemoryDpopReplayStore: full of unexpired DPoP proofs');
    this.#forget(jti);
    this.#entries.set(jti, { expiresAt: expiresAtSeconds, holder });
    if (holder !== undefined) this.#held.set(holder, (this.#held.get(holder) ?? 0) + 1);
    return true;
  }

  /** Drops expired entries from the oldest end, stopping at the first live one. */
  #dropExpired(now: number): void {
    for (const [jti, { expiresAt }] of this.#entries) {
      if (expiresAt > now) break;
      this.#forget(jti);
    }
  }

  #forget(jti: string): void {
    const entry = this.#entries.get(jti);
    if (entry === undefined) return;
    this.#entries.delete(jti);
    if (entry.holder === undefined) return;
    const count = (this.#held.get(entry.holder) ?? 1) - 1;
    if (count > 0) this.#held.set(entry.holder, count);
    else this.#held.delete(entry.holder);
  }
}
