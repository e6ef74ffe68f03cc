import type { PlatformToken } from './connector.ts';

/** What a cache holds: a plain JSON value, so a store can serialize and encrypt it (`encodeCachedToken`). */
export type CachedToken = PlatformToken;

/**
 * Where connectors keep platform tokens between calls. Keys come from `tokenCacheKey` and already
 * separate connectors, users, tenants and scope sets; a store only has to keep them apart. Any store
 * works (memory, an encrypted vault, Redis): the connector re-checks expiry itself, so `ttlSeconds` is
 * the latest a store may keep an entry, not a promise that it will.
 */
export interface TokenCache {
  get(key: string): Promise<CachedToken | undefined>;
  set(key: string, token: CachedToken, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface MemoryTokenCacheOptions {
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  now?: () => number;
}

/**
 * The default cache: one process, one Map. Values are stored serialized, as a vault would store them,
 * so a caller mutating a returned token cannot change what the next caller gets.
 */
export function memoryTokenCache(options: MemoryTokenCacheOptions = {}): TokenCache {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expiresAtMs: number }>();
  let lastSweep = 0;

  // Expired entries are dropped on read, and in a sweep at most once a second on write, so a cache of
  // many one-off users does not grow without bound.
  function sweep(): void {
    const current = now();
    if (current - lastSweep < 1000) return;
    lastSweep = current;
    for (const [key, entry] of entries) if (entry.expiresAtMs <= current) entries.delete(key);
  }

  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAtMs <= now()) {
        entries.delete(key);
        return undefined;
      }
      return decodeCachedToken(entry.value);
    },
    async set(key, token, ttlSeconds) {
      sweep();
      if (ttlSeconds <= 0) return;
      entries.set(key, { value: encodeCachedToken(token), expiresAtMs: now() + ttlSeconds * 1000 });
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}

/** The string form of a cached token: what an encrypting store encrypts. */
export function encodeCachedToken(token: CachedToken): string {
  return JSON.stringify({
    accessToken: token.accessToken,
    expiresAt: token.expiresAt,
    ...(token.scope === undefined ? {} : { scope: token.scope }),
  });
}

/** Reads `encodeCachedToken` output back; anything else is treated as a miss (`undefined`), never thrown. */
export function decodeCachedToken(value: string): CachedToken | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { accessToken, expiresAt, scope } = parsed as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return { accessToken, expiresAt, ...(scope === undefined ? {} : { scope }) };
}
