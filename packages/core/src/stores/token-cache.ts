import type { KeyValueStore } from './key-value.ts';
import {
  decodeProvenance,
  type RevocationFollower,
  type RevocationTest,
  type TokenProvenance,
} from './provenance.ts';

/** A token obtained for a later call, and until when it may be reused. */
export interface CachedToken {
  readonly accessToken: string;
  /** Unix seconds. */
  readonly expiresAt: number;
  readonly scope?: string;
  /** Who it stands for, kept beside it so a revocation can find it (`TokenCache.dropRevoked`). */
  readonly provenance?: TokenProvenance;
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
    ...(token.provenance === undefined ? {} : { provenance: token.provenance }),
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
  // A provenance that does not read is an entry a revocation could not find: never served.
  const provenance = decodeProvenance((parsed as Record<string, unknown>).provenance);
  if (provenance === null) return undefined;
  return {
    accessToken,
    expiresAt,
    ...(scope === undefined ? {} : { scope }),
    ...(provenance === undefined ? {} : { provenance }),
  };
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
  /**
   * Told each token `dropRevoked` took out, after it is gone from memory and the store: to revoke it
   * where it was issued (RFC 7009). Awaited; what it throws is ignored (it reports its own failures).
   */
  readonly onRevokedDrop?: (token: CachedToken, key: string) => Promise<void> | void;
}

/** Provenances remembered for `dropRevoked`, at most (expired ones go first, then the oldest). */
const MAX_PROVENANCES = 100_000;

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
export class TokenCache implements RevocationFollower {
  readonly #memory = new Map<string, CachedToken>();
  /**
   * The provenance of every token this process kept (in memory or in the store), with its expiry: what
   * `dropRevoked` searches. A token whose provenance is forgotten (bound reached) leaves memory too.
   */
  readonly #provenances = new Map<string, { provenance: TokenProvenance; expiresAt: number }>();
  #revoked: RevocationTest | undefined;
  readonly #onRevokedDrop: TokenCacheOptions['onRevokedDrop'];
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
    this.#onRevokedDrop = options.onRevokedDrop;
  }

  /** How many tokens this process holds in memory. */
  get size(): number {
    return this.#memory.size;
  }

  /**
   * The cached token for `key` while fresh; otherwise `obtain()`'s, shared by concurrent callers.
   * `provenance` (who the token obtained stands for) is kept beside it, in memory and in the store, so
   * that `dropRevoked` finds it; a cached token a followed revocation covers is never returned.
   */
  async get(
    key: string,
    obtain: () => Promise<CachedToken>,
    provenance?: TokenProvenance,
  ): Promise<CachedToken> {
    const remembered = this.#memory.get(key);
    if (remembered !== undefined) {
      this.#memory.delete(key);
      if (this.#isFresh(remembered) && !this.#isRevoked(this.#provenances.get(key)?.provenance)) {
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
    const request: Promise<CachedToken> = this.#fetch(key, obtain, provenance).finally(() => {
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
    this.#provenances.delete(key);
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

  /**
   * Drops every token whose provenance `revoked` covers, from memory and the store (each through
   * `evict`, then `onRevokedDrop`), and from now on treats a cached token it covers as absent: one read
   * from the store (another instance's) is a miss, one obtained before the revocation is not kept.
   * `revoked` is a live view (`followRevocations` passes the list's). Searches what this process kept:
   * a linear pass, as revocations are rare next to lookups. Rejects when a store could not delete.
   */
  async dropRevoked(revoked: RevocationTest): Promise<void> {
    this.#revoked = revoked;
    const covered: string[] = [];
    const now = this.#nowSeconds();
    for (const [key, held] of this.#provenances) {
      // An expired token is served by no one: forgotten, not revoked upstream.
      if (held.expiresAt <= now) this.#provenances.delete(key);
      else if (revoked(held.provenance)) covered.push(key);
    }
    const results = await Promise.allSettled(covered.map((key) => this.#dropRevokedKey(key)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    if (failures.length) throw new AggregateError(failures, 'revoked tokens could not all be dropped');
  }

  async #dropRevokedKey(key: string): Promise<void> {
    const notify = this.#onRevokedDrop;
    let token = this.#memory.get(key);
    if (token === undefined && notify !== undefined && this.#store !== undefined) {
      token = await this.#store.get(key).catch(() => undefined);
    }
    await this.evict(key);
    if (token === undefined || notify === undefined) return;
    try {
      await notify(withoutProvenance(token), key);
    } catch {
      // The observer reports its own failures; the token is out of the cache either way.
    }
  }

  #isRevoked(provenance: TokenProvenance | undefined): boolean {
    return provenance !== undefined && this.#revoked?.(provenance) === true;
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

  async #fetch(
    key: string,
    obtain: () => Promise<CachedToken>,
    provenance: TokenProvenance | undefined,
  ): Promise<CachedToken> {
    const generation = this.#generation(key);
    const stored = await this.#storeCall('get', () => this.#store?.get(key));
    // A stored token a followed revocation covers is a miss: the token obtained now replaces it.
    if (stored !== undefined && this.#isFresh(stored) && !this.#isRevoked(stored.provenance)) {
      const token = withoutProvenance(stored);
      this.#remember(key, token, generation, stored.provenance);
      this.#onLookup?.('shared_hit');
      return token;
    }
    this.#onLookup?.('miss');
    const token = withoutProvenance(await obtain());
    // A revocation that came while it was being obtained, and covers it, keeps it out of the cache.
    if (this.#isFresh(token) && this.#mayKeep(key, generation) && !this.#isRevoked(provenance)) {
      this.#remember(key, token, generation, provenance);
      const ttl = Math.ceil(token.expiresAt - this.#nowSeconds());
      const kept = provenance === undefined ? token : { ...token, provenance };
      await this.#tracked(
        key,
        this.#storeCall('set', () => this.#store?.set(key, kept, ttl)),
      );
    }
    return token;
  }

  #keepProvenance(key: string, provenance: TokenProvenance | undefined, expiresAt: number): void {
    this.#provenances.delete(key);
    if (provenance === undefined) return;
    if (this.#provenances.size >= MAX_PROVENANCES) {
      const now = this.#nowSeconds();
      for (const [k, held] of this.#provenances) if (held.expiresAt <= now) this.#provenances.delete(k);
      while (this.#provenances.size >= MAX_PROVENANCES) {
        const oldest = this.#provenances.keys().next().value as string;
        this.#provenances.delete(oldest);
        // Never hold in memory a token a revocation could not find.
        this.#memory.delete(oldest);
      }
    }
    this.#provenances.set(key, { provenance, expiresAt });
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

  #remember(
    key: string,
    token: CachedToken,
    generation: number,
    provenance: TokenProvenance | undefined,
  ): void {
    if (!this.#mayKeep(key, generation)) return;
    this.#keepProvenance(key, provenance, token.expiresAt);
    if (this.#maxEntries === 0) return;
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

/** The token as a caller gets it: its provenance stays with the cache. */
function withoutProvenance(token: CachedToken): CachedToken {
  if (token.provenance === undefined) return token;
  return {
    accessToken: token.accessToken,
    expiresAt: token.expiresAt,
    ...(token.scope === undefined ? {} : { scope: token.scope }),
  };
}
