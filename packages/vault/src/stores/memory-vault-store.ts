import type { VaultStore } from '../vault-store.ts';

export interface MemoryVaultStoreOptions {
  /** Clock in ms since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
}

const MIN_SWEEP = 1024;

/**
 * The embedded default: a `Map` in this process. Records are still sealed, so a heap dump shows
 * ciphertext, not tokens. Expired entries vanish on read and in a sweep that runs whenever the map has
 * doubled since the last one (amortised O(1) per put), so unread expired entries cannot pile up.
 */
export class MemoryVaultStore implements VaultStore {
  readonly #entries = new Map<string, { record: string; expiresAt: number }>();
  readonly #now: () => number;
  #sweepAt = MIN_SWEEP;

  constructor(options: MemoryVaultStoreOptions = {}) {
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    this.#now = options.now ?? Date.now;
  }

  async put(id: string, record: string, expiresAt: number): Promise<void> {
    this.#entries.set(id, { record, expiresAt });
    if (this.#entries.size >= this.#sweepAt) this.#sweep();
  }

  async get(id: string): Promise<string | undefined> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry.record;
  }

  async delete(id: string): Promise<boolean> {
    return this.#entries.delete(id);
  }

  async replace(id: string, expected: string, next: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.record !== expected || entry.expiresAt <= this.#now()) return false;
    entry.record = next;
    return true;
  }

  async *list(): AsyncIterable<string> {
    this.#sweep();
    yield* [...this.#entries.keys()];
  }

  /** Entries held, expired ones included until swept. */
  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
    this.#sweepAt = Math.max(MIN_SWEEP, this.#entries.size * 2);
  }
}
