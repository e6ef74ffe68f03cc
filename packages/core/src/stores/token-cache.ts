import type { KeyValueStore } from './key-value.ts';

/** A token obtained for a later call, and until when it may be reused. */
export interface CachedToken {
  readonly accessToken: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly scope?: string;
}

/**
 * Where a `TokenCache` keeps tokens beyond its own memory: shared by instances, encrypted at rest, or
 * both (`keyValueTokenStore(vaultKeyValue(vault, 'downstream'))`). `ttlSeconds` is the latest the store
 * may keep an entry; the cache re-checks expiry on every read.
 */
export interface TokenStore {
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, token: CachedToken, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The string form of a cached token: what an encrypting store encrypts. */
export function encodeCachedToken(token: CachedToken): string {
  return JSON.stringify({
    accessToken: token.accessToken,
    expiresAt: token.expiresAt,
    ...(token.scope === undefined ? {} : { scope: token.scope }),
  });
}

/**
 * Reads `encodeCachedToken` output back. Anything else (another writer's, a corrupt or a foreign entry)
 * is `undefined`, never thrown: a miss, so the token is obtained afresh and overwrites it, rather than
 * every later call failing on it.
 */
export function decodeCachedToken(value: unknown): CachedToken | undefined {
  if (typeof value !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { accessToken, expiresAt, scope } = parsed as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return { accessToken, expiresAt, ...(scope === undefined ? {} : { scope }) };
}

/**
 * A `TokenStore` over any string `KeyValueStore`. A store without `delete` (an older shared store)
 * cannot evict: `TokenCache.evict` then rejects, since the token may still be served; everything
 * else works.
 *
 * @example
 * const store = keyValueTokenStore(vaultKeyValue(vault, 'platform-tokens'));
 */
export function keyValueTokenStore(
  store: Pick<KeyValueStore, 'get' | 'set'> & Partial<Pick<KeyValueStore, 'delete'>>,
): TokenStore {
  return {
    async get(key) {
      return decodeCachedToken(await store.get(key));
    },
    set: (key, token, ttlSeconds) => store.set(key, encodeCachedToken(token), ttlSeconds),
    delete: async (key) => {
      if (store.delete === undefined) {
        throw new Error('this shared token store cannot delete: the evicted token may still be served');
      }
      await store.delete(key);
    },
  };
}

export interface TokenCacheOptions {
  /** A second tier behind this process's memory (shared, encrypted). Default none. */
  readonly store?: TokenStore;
  /**
   * Tokens kept in this process's memory, at most this many (least recently used evicted first);
   * 0 keeps none (every read goes to `store`). Default 10 000.
   */
  readonly maxEntries?: number;
  /** A token is replaced this long before it expires, so no caller gets one about to lapse. Default 30. */
  readonly refreshSkewSeconds?: number;
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Told when `store` fails to read or write; the call then goes on (a failed read is a miss, a failed
   * write still returns the obtained token). Without it, a store failure fails the call. Never sees a
   * token. A failed `evict` always rejects: an eviction that did not happen must not look as if it did.
   */
  readonly onStoreError?: (error: unknown, operation: 'get' | 'set') => void;
  /** Told how each `get` was answered (for metrics); never the key or the token. */
  readonly onLookup?: (result: TokenCacheLookup) => void;
}

/**
 * How a `get` was answered: from this process's memory (`hit`), by joining a request already in
 * flight (`joined`), from the shared store (`shared_hit`), or by obtaining a token (`miss`).
 */
export type TokenCacheLookup = 'hit' | 'joined' | 'shared_hit' | 'miss';

/**
 * Reuses tokens until shortly before they expire, with at most one `obtain` in flight per key
 * (concurrent callers of one key share its answer). Bounded in memory; `evict` drops a key from memory
 * and the store, so a revocation can take a token out before it expires. Keys are built by the caller
 * from validated identity, so one person's token is never served to another. A token obtained already
 * inside the refresh window is returned to its caller but not kept.
 *
 * @example
 * const cache = new TokenCache({ maxEntries: 1000 });
 * const token = await cache.get(key, () => exchangeAtBroker());
 * await cache.evict(key); // revoked: the next call obtains a new one
 */
export class TokenCache {
  readonly #memory = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<CachedToken>>();
  /**
   * Fetches running per key, joinable or not: an eviction's record is kept while any runs, so one that
   * began before the eviction never keeps its token.
   */
  readonly #fetching = new Map<string, number>();
  /** Store writes in flight, per key: an eviction waits for them before it deletes. */
  readonly #writes = new Map<string, Set<Promise<unknown>>>();
  readonly #store: TokenStore | undefined;
  readonly #maxEntries: number;
  readonly #skewSeconds: number;
  readonly #now: () => number;
  readonly #onStoreError: TokenCacheOptions['onStoreError'];
  readonly #onLookup: TokenCacheOptions['onLookup'];
  /**
   * Per key being evicted: a generation bumped when `evict` starts and again when the store has
   * deleted, so a read or `obtain` that began before either does not put the token back; and how many
   * evictions are running. Dropped once neither an eviction nor a request for the key is in flight.
   */
  readonly #evictions = new Map<string, { generation: number; running: number }>();

  constructor(options: TokenCacheOptions = {}) {
    const skew = options.refreshSkewSeconds ?? 30;
    if (typeof skew !== 'number' || !Number.isFinite(skew) || skew < 0)
      throw new TypeError('refreshSkewSeconds must be a non-negative number');
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 0)
      throw new TypeError('maxEntries must be a non-negative integer');
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    this.#store = options.store;
    this.#maxEntries = maxEntries;
    this.#skewSeconds = skew;
    this.#now = options.now ?? Date.now;
    this.#onStoreError = options.onStoreError;
    this.#onLookup = options.onLookup;
  }

  /** How many tokens this process holds in memory. */
  get size(): number {
    return this.#memory.size;
  }

  /** The cached token for `key` while fresh; otherwise `obtain()`'s, shared by concurrent callers. */
  async get(key: string, obtain: () => Promise<CachedToken>): Promise<CachedToken> {
    const remembered = this.#memory.get(key);
    if (remembered !== undefined) {
      this.#memory.delete(key);
      if (this.#isFresh(remembered)) {
        this.#memory.set(key, remembered);
        this.#onLookup?.('hit');
        return remembered;
      }
    }
    const pending = this.#inFlight.get(key);
    if (pending) {
      this.#onLookup?.('joined');
      return pending;
    }
    this.#fetching.set(key, (this.#fetching.get(key) ?? 0) + 1);
    const request: Promise<CachedToken> = this.#fetch(key, obtain).finally(() => {
      // Only this request's entry: an eviction may have dropped it and a newer request taken its place.
      if (this.#inFlight.get(key) === request) this.#inFlight.delete(key);
      const fetching = (this.#fetching.get(key) ?? 1) - 1;
      if (fetching === 0) this.#fetching.delete(key);
      else this.#fetching.set(key, fetching);
      this.#forgetEvictions(key);
    });
    this.#inFlight.set(key, request);
    return request;
  }

  /**
   * Drops `key` from memory and the store; a request in flight for it is answered to its callers but
   * not kept, and later callers do not join it. Resolves once no store write begun before the eviction
   * can land after it. Rejects when the store cannot delete (whatever `onStoreError` says), since the
   * token may still be served.
   */
  async evict(key: string): Promise<void> {
    const eviction = this.#evictions.get(key) ?? { generation: 0, running: 0 };
    this.#evictions.set(key, eviction);
    eviction.generation++;
    eviction.running++;
    this.#memory.delete(key);
    this.#inFlight.delete(key);
    try {
      // No write starts while an eviction runs (`#mayKeep`); one that began before must land first,
      // or it would put the evicted token back after the delete.
      const writes = this.#writes.get(key);
      if (writes !== undefined) await Promise.allSettled([...writes]);
      await this.#store?.delete(key);
    } finally {
      eviction.generation++;
      eviction.running--;
      this.#forgetEvictions(key);
    }
  }

  #generation(key: string): number {
    return this.#evictions.get(key)?.generation ?? 0;
  }

  /** A token read or obtained since `generation` may be kept: no eviction began or runs since. */
  #mayKeep(key: string, generation: number): boolean {
    const eviction = this.#evictions.get(key);
    return eviction === undefined || (eviction.running === 0 && eviction.generation === generation);
  }

  #forgetEvictions(key: string): void {
    const eviction = this.#evictions.get(key);
    if (eviction !== undefined && eviction.running === 0 && !this.#fetching.has(key))
      this.#evictions.delete(key);
  }

  async #fetch(key: string, obtain: () => Promise<CachedToken>): Promise<CachedToken> {
    const generation = this.#generation(key);
    const stored = await this.#storeCall('get', () => this.#store?.get(key));
    if (stored !== undefined && this.#isFresh(stored)) {
      this.#remember(key, stored, generation);
      this.#onLookup?.('shared_hit');
      return stored;
    }
    this.#onLookup?.('miss');
    const token = await obtain();
    if (this.#isFresh(token) && this.#mayKeep(key, generation)) {
      this.#remember(key, token, generation);
      const ttl = Math.ceil(token.expiresAt - this.#nowSeconds());
      await this.#tracked(
        key,
        this.#storeCall('set', () => this.#store?.set(key, token, ttl)),
      );
    }
    return token;
  }

  async #tracked<T>(key: string, write: Promise<T>): Promise<T> {
    let writes = this.#writes.get(key);
    if (writes === undefined) {
      writes = new Set();
      this.#writes.set(key, writes);
    }
    writes.add(write);
    try {
      return await write;
    } finally {
      writes.delete(write);
      if (writes.size === 0 && this.#writes.get(key) === writes) this.#writes.delete(key);
    }
  }

  #remember(key: string, token: CachedToken, generation: number): void {
    if (this.#maxEntries === 0 || !this.#mayKeep(key, generation)) return;
    this.#memory.delete(key);
    if (this.#memory.size >= this.#maxEntries) {
      const now = this.#nowSeconds();
      for (const [k, t] of this.#memory) if (t.expiresAt <= now) this.#memory.delete(k);
      while (this.#memory.size >= this.#maxEntries)
        this.#memory.delete(this.#memory.keys().next().value as string);
    }
    this.#memory.set(key, token);
  }

  async #storeCall<T>(operation: 'get' | 'set', call: () => Promise<T> | undefined): Promise<T | undefined> {
    if (this.#store === undefined) return undefined;
    if (this.#onStoreError === undefined) return call();
    try {
      return await call();
    } catch (error) {
      try {
        this.#onStoreError(error, operation);
      } catch {
        // A failing observer must not fail the call either.
      }
      return undefined;
    }
  }

  #nowSeconds(): number {
    return this.#now() / 1000;
  }

  #isFresh(token: CachedToken): boolean {
    return token.expiresAt - this.#skewSeconds > this.#nowSeconds();
  }
}
