/** A token obtained for a downstream call, and until when it may be reused. */
export interface CachedToken {
  accessToken: string;
  /** Unix seconds. */
  expiresAt: number;
}

/**
 * Reuses downstream tokens until shortly before they expire, one in-flight request per key
 * (concurrent calls for the same key wait for the same answer). Keys are built by the caller from
 * the validated identity, so one person's token is never served to another.
 */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<CachedToken>>();
  readonly #skewSeconds: number;

  constructor(options: { refreshSkewSeconds?: number } = {}) {
    this.#skewSeconds = options.refreshSkewSeconds ?? 30;
  }

  async get(key: string, obtain: () => Promise<CachedToken>): Promise<CachedToken> {
    const now = Math.floor(Date.now() / 1000);
    const cached = this.#entries.get(key);
    if (cached && cached.expiresAt - this.#skewSeconds > now) return cached;
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const request = obtain()
      .then((token) => {
        this.#entries.set(key, token);
        if (this.#entries.size % 1024 === 0) this.#sweep(now);
        return token;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, request);
    return request;
  }

  #sweep(now: number): void {
    for (const [key, token] of this.#entries) if (token.expiresAt <= now) this.#entries.delete(key);
  }
}
