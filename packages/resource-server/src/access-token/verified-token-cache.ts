import { hash } from 'node:crypto';
import type { RevocationFollower, RevocationTest } from '@baton/core/stores';
import type { AccessTokenClaims } from './claims.ts';
import { tokenProvenance } from './provenance.ts';

/** Default bound on cached tokens per verifier. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/** Which cached verifications to drop: one token (`jti`), every token of a person (`sub`), or all. */
export type VerifiedTokenEviction = { tokenId: string } | { subject: string } | 'all';

/** One verification, as the verifier checked it. The signature key is what a hit checks again. */
export interface VerifiedTokenEntry {
  /** Deeply frozen: every hit hands out this same object. */
  readonly claims: AccessTokenClaims;
  /** The protected header fields that select the key (`alg`, `kid`). */
  readonly header: { readonly alg: string; readonly kid?: string };
  /** The key object that verified the signature. */
  readonly key: unknown;
  /** `nbf`, when the token had one. */
  readonly notBefore: number | undefined;
}

export interface VerifiedTokenCacheOptions {
  /** Most tokens held; the least recently used goes first. Default 10,000. */
  maxEntries?: number;
}

/** Set by `VerifiedTokenCache`'s static block: the one way to its storage. */
let bindStore: (cache: VerifiedTokenCache) => VerifiedTokenStore;

/**
 * Verified access tokens, keyed by the SHA-256 of the token (never the token itself), each held no
 * longer than the token's own `exp`. It saves the signature check on a token already verified; it
 * never widens what is accepted: `jwtAccessTokenVerifier` checks `exp`/`nbf` on every hit and asks its
 * key set for the signing key again (so a key the issuer withdrew refuses the token exactly when the
 * uncached path would), and it caches only what it accepted.
 *
 * One cache serves one verifier: its entries were checked against that verifier's issuer, audience and
 * algorithms, and only that verifier can read or fill it. `evict` (by `jti`, by subject, or everything)
 * drops entries so that the next use is verified in full; a verification begun before an eviction is
 * not stored after it. Eviction alone does not refuse a revoked token: the full verification accepts a
 * validly signed, unexpired token again. Refusing it needs a revocation check (issue #11) or
 * `introspectionVerifier`.
 *
 * @example
 * const cache = new VerifiedTokenCache({ maxEntries: 50_000 });
 * const verifier = jwtAccessTokenVerifier({ issuer, audience, cache });
 * // With a revocation check of your own in front (issue #11): eviction only forces a full verification.
 * onRevoked((event) => cache.evict({ subject: event.sub }));
 */
export class VerifiedTokenCache implements RevocationFollower {
  readonly maxEntries: number;
  readonly #store: VerifiedTokenStore;
  #bound = false;

  static {
    bindStore = (cache) => {
      if (cache.#bound) {
        throw new TypeError(
          'VerifiedTokenCache: a cache serves one verifier (its entries were checked for that verifier’s issuer and audience)',
        );
      }
      cache.#bound = true;
      return cache.#store;
    };
  }

  constructor(options: VerifiedTokenCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError('VerifiedTokenCache: maxEntries must be a positive integer');
    }
    this.maxEntries = maxEntries;
    this.#store = new VerifiedTokenStore(maxEntries);
  }

  /** How many verifications are held. */
  get size(): number {
    return this.#store.size;
  }

  /**
   * Lookups since the cache was made: `hits` skipped the signature check, `misses` were verified in
   * full (unknown, expired, or no longer signed by a key the key set yields). For metrics.
   */
  get lookups(): { readonly hits: number; readonly misses: number } {
    return { hits: this.#store.hits, misses: this.#store.misses };
  }

  /** The keys held: SHA-256 hashes of tokens (what a dump of the cache shows), never a token. */
  keys(): IterableIterator<string> {
    return this.#store.keys();
  }

  /**
   * Drops cached verifications: the token with this `jti`, every token of this subject, or all. The
   * next use of an evicted token is verified in full (and, if it passes, held again): eviction is not
   * revocation. A verification in flight when `evict` is called is not stored when it ends. Returns
   * how many were dropped. A linear pass: evictions are rare next to requests, and the cache is bounded.
   *
   * @example
   * cache.evict({ tokenId: 'jti-123' }); cache.evict({ subject: 'user-bob' }); cache.evict('all');
   */
  evict(which: VerifiedTokenEviction): number {
    if (which === 'all') return this.#store.deleteWhere(() => true);
    const matches =
      which !== null && typeof which === 'object' && 'tokenId' in which && typeof which.tokenId === 'string'
        ? (claims: AccessTokenClaims) => claims.tokenId === which.tokenId
        : which !== null &&
            typeof which === 'object' &&
            'subject' in which &&
            typeof which.subject === 'string'
          ? (claims: AccessTokenClaims) => claims.subject === which.subject
          : undefined;
    if (!matches) throw new TypeError("VerifiedTokenCache.evict: pass { tokenId }, { subject } or 'all'");
    return this.#store.deleteWhere(matches);
  }

  /**
   * Drops every verification a revocation covers (its person, session, `jti` or a client of its chain;
   * `tokenProvenance`): what `followRevocations(list, cache)` from `@baton/shared-signals` calls on each
   * change of the list. Like `evict`, this only forces a full verification; refusing the token is the
   * verifier's revocation check.
   *
   * @example
   * followRevocations(revocations, cache);
   */
  async dropRevoked(revoked: RevocationTest): Promise<void> {
    this.#store.deleteWhere((claims) => revoked(tokenProvenance(claims)));
  }
}

/**
 * The storage behind `cache`, for the one verifier that fills it; a second call for the same cache
 * throws. Not exported from the package: nothing else can read or fill a cache.
 * @internal called by `jwtAccessTokenVerifier`.
 */
export function bindVerifiedTokenCache(cache: VerifiedTokenCache): VerifiedTokenStore {
  return bindStore(cache);
}

/** The cache key of `token`: its SHA-256, base64url. The token itself is never held. */
export function verifiedTokenKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** Bounded map from token hash to verification, in use order (the first key is the least recently used). */
export class VerifiedTokenStore {
  readonly #entries = new Map<string, VerifiedTokenEntry>();
  readonly #maxEntries: number;
  #generation = 0;
  /** Lookups answered from the cache, and lookups that went on to a full verification. */
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The entry for a token key, unless its `exp` has passed (jose's rule: refused once
   * `exp <= now - clockTolerance`), in which case it is dropped. Marks the entry as recently used.
   */
  get(key: string, nowSeconds: number, clockToleranceSeconds: number): VerifiedTokenEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.claims.expiresAt <= nowSeconds - clockToleranceSeconds) return undefined;
    this.#entries.set(key, entry);
    return entry;
  }

  /**
   * Counts evictions (`deleteWhere`). Read it before a verification and pass it to `set`: a
   * verification begun before an eviction is then not stored after it.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Holds a verification begun at `generation`, dropping the least recently used beyond the bound; not
   * held when an eviction happened since.
   */
  set(key: string, entry: VerifiedTokenEntry, generation: number): void {
    if (generation !== this.#generation) return;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  deleteWhere(matches: (claims: AccessTokenClaims) => boolean): number {
    this.#generation += 1;
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (matches(entry.claims)) {
        this.#entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }
}
