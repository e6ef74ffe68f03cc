import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** A declared limit: at most `points` requests per `durationSeconds` window, per key. */
export interface RateLimit {
  points: number;
  durationSeconds: number;
}

/**
 * Where counts are kept: this process's memory (one instance), or Redis (`redis` v4+ / node-redis,
 * or ioredis) shared by every instance that uses the same `keyPrefix`. A Redis that fails falls back
 * to a per-instance memory count with the same limit (rate-limiter-flexible's insurance limiter), so
 * an outage neither lets everyone through nor refuses everyone.
 */
export type RateLimitStore = { memory: true } | { redis: unknown; keyPrefix: string };

/** A request over its limit: how long until the window lets the next one through. */
export interface RateLimited {
  /** Whole seconds, at least 1: the HTTP `Retry-After` value (RFC 9110 §10.2.3). */
  retryAfterSeconds: number;
}

/**
 * One declared limit over one store, consumed per key (a person, an agent, a client…).
 *
 * @example
 * const perPerson = new RateLimiter('person', { points: 60, durationSeconds: 60 }, { memory: true });
 * const over = await perPerson.consume(identity.actor.sub); // undefined, or { retryAfterSeconds }
 */
export class RateLimiter {
  readonly name: string;
  readonly limit: Readonly<RateLimit>;
  readonly #limiter: RateLimiterMemory | RateLimiterRedis;

  constructor(name: string, limit: RateLimit, store: RateLimitStore) {
    checkRateLimit(limit, name);
    this.name = name;
    this.limit = Object.freeze({ points: limit.points, durationSeconds: limit.durationSeconds });
    const options = { points: limit.points, duration: limit.durationSeconds };
    if ('redis' in store) {
      if (typeof store.keyPrefix !== 'string' || store.keyPrefix === '')
        throw new TypeError(`rate limit ${name}: a Redis store needs a keyPrefix`);
      if (store.redis === null || typeof store.redis !== 'object')
        throw new TypeError(`rate limit ${name}: redis must be a connected client`);
      // node-redis v4+ has `isOpen`; ioredis has `status`. rate-limiter-flexible speaks to both.
      const nodeRedis = 'isOpen' in store.redis;
      this.#limiter = new RateLimiterRedis({
        ...options,
        storeClient: store.redis,
        useRedisPackage: nodeRedis,
        keyPrefix: `${store.keyPrefix}:${name}`,
        insuranceLimiter: new RateLimiterMemory({ ...options, keyPrefix: name }),
      });
    } else if (store?.memory === true) {
      this.#limiter = new RateLimiterMemory({ ...options, keyPrefix: name });
    } else {
      throw new TypeError(`rate limit ${name}: store must be { memory: true } or { redis, keyPrefix }`);
    }
  }

  /** Counts `points` against `key`: `undefined` within the limit, otherwise when to try again. */
  async consume(key: string, points = 1): Promise<RateLimited | undefined> {
    try {
      await this.#limiter.consume(key, points);
      return undefined;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes)
        return { retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
      throw refusal;
    }
  }
}

/** Validates a declared limit (a `TypeError` naming `name`). */
export function checkRateLimit(limit: RateLimit, name: string): void {
  if (
    typeof limit !== 'object' ||
    limit === null ||
    !Number.isInteger(limit.points) ||
    limit.points < 1 ||
    !Number.isInteger(limit.durationSeconds) ||
    limit.durationSeconds < 1
  )
    throw new TypeError(`rate limit ${name}: points and durationSeconds must be positive integers`);
}
