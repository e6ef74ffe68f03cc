/** A token obtained for a downstream call, and until when it may be reused. */
export interface CachedToken {
  accessToken: string;
  /** Unix seconds. */
  expiresAt: number;
}

/**
 * A store shared by the instances of a server, e.g. `vaultKeyValue(vault, 'downstream')` from
 * `@baton/vault`: tokens kept there are encrypted at rest.
 */
export interface SharedTokenStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
}

/**
 * How a lookup was answered: from this instance (`hit`), by joining a request already in flight
 * (`joined`), from the shared store (`shared_hit`), or by obtaining a token (`miss`).
 */
export type TokenCacheLookup = 'hit' | 'joined' | 'shared_hit' | 'miss';

/**
 * Reuses downstream tokens until shortly before they expire, one in-flight request per key
 * (concurrent calls for the same key wait for the same answer). Keys are built by the caller from
 * the validated identity, so one person's token is never served to another.
 */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<CachedToken>>();
  readonly #skewSeconds: number;
  readonly #store: SharedTokenStore | undefined;
  readonly #onLookup: ((result: TokenCacheLookup) => void) | undefined;

  constructor(
    options: {
      refreshSkewSeconds?: number;
      store?: SharedTokenStore;
      /** Told how each lookup was answered (metrics); never the key or the token. */
      onLookup?: (result: TokenCacheLookup) => void;
    } = {},
  ) {
    this.#skewSeconds = options.refreshSkewSeconds ?? 30;
    this.#store = options.store;
    this.#onLookup = options.onLookup;
  }

  async get(key: string, obtain: () => Promise<CachedToken>): Promise<CachedToken> {
    const now = Math.floor(Date.now() / 1000);
    const cached = this.#entries.get(key);
    if (cached && cached.expiresAt - this.#skewSeconds > now) {
      this.#onLookup?.('hit');
      return cached;
    }
    const pending = this.#inFlight.get(key);
    if (pending) {
      this.#onLookup?.('joined');
      return pending;
    }
    const request = this.#shared(key, now)
      .then((shared) => {
        this.#onLookup?.(shared ? 'shared_hit' : 'miss');
        return shared ?? obtain().then((token) => this.#share(key, token, now));
      })
      .then((token) => {
        this.#entries.set(key, token);
        if (this.#entries.size % 1024 === 0) this.#sweep(now);
        return token;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, request);
    return request;
  }

  /** A token another instance obtained and sealed in the shared store, if still fresh. */
  async #shared(key: string, now: number): Promise<CachedToken | undefined> {
    if (!this.#store) return undefined;
    const value = await this.#store.get(key);
    if (value === undefined) return undefined;
    // Another writer's, a corrupt or a foreign entry is a miss: the token is obtained afresh and
    // overwrites it, rather than every later call failing on it.
    const token = readCachedToken(value);
    return token && token.expiresAt - this.#skewSeconds > now ? token : undefined;
  }

  async #share(key: string, token: CachedToken, now: number): Promise<CachedToken> {
    await this.#store?.set(key, JSON.stringify(token), token.expiresAt - now);
    return token;
  }

  #sweep(now: number): void {
    for (const [key, token] of this.#entries) if (token.expiresAt <= now) this.#entries.delete(key);
  }
}

/** A shared-store value as a token, or `undefined` when it is not one this cache wrote. */
function readCachedToken(value: unknown): CachedToken | undefined {
  if (typeof value !== 'string') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { accessToken, expiresAt } = parsed as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  return { accessToken, expiresAt };
}
