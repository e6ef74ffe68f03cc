/**
 * The one string key-value contract Baton's caches plug into: memory (`memoryKeyValue`), the encrypted
 * vault (`vaultKeyValue` in `@baton/vault`, over its memory, PostgreSQL or Redis stores), or any store
 * an operator brings. The conformance suite in `@baton/core`'s tests runs against each.
 *
 * - `get` returns exactly the string `set` stored under `key`, or `undefined` when there is none or its
 *   time to live has passed.
 * - `set` creates or replaces; `ttlSeconds` is the latest the store keeps the entry, not a promise that
 *   it will (a bounded store may drop it earlier, so callers re-check what they read).
 * - `delete` removes the entry if any; deleting a missing key is not an error.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface MemoryKeyValueOptions {
  /** At most this many entries; the least recently used goes first when full. Default 10 000. */
  readonly maxEntries?: number;
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * One process's `KeyValueStore`: a Map, bounded, expiry-aware. Expired entries are dropped on read and,
 * when the store is full, before the least recently used live entry is evicted.
 *
 * @example
 * const store = memoryKeyValue({ maxEntries: 1000 });
 * await store.set('k', 'v', 60);
 */
export function memoryKeyValue(
  options: MemoryKeyValueOptions = {},
): KeyValueStore & { readonly size: number } {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
    throw new TypeError('maxEntries must be a positive integer');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new TypeError('now must be a function');
  const now = options.now ?? Date.now;
  // Map order is use order: a read re-inserts, so the first key is the least recently used.
  const entries = new Map<string, { value: string; expiresAtMs: number }>();

  function makeRoom(): void {
    if (entries.size < maxEntries) return;
    const current = now();
    for (const [key, entry] of entries) if (entry.expiresAtMs <= current) entries.delete(key);
    while (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
  }

  return {
    get size() {
      return entries.size;
    },
    async get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      if (entry.expiresAtMs <= now()) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    async set(key, value, ttlSeconds) {
      entries.delete(key);
      if (!(ttlSeconds > 0)) return;
      makeRoom();
      entries.set(key, { value, expiresAtMs: now() + ttlSeconds * 1000 });
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}
