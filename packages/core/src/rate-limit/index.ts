import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** A declared limit: at most `points` requests per `durationSeconds` window, per key. */
export interface RateLimit {
  points: number;
  durationSeconds: number;
}

/**
 * Where counts are kept: this process's memory (one instance), or Redis (`redis` v4+ / node-redis,
 * or ioredis) shared by every instance that uses the same `keyPrefix`. A Redis that fails falls back
 * to a per-instance memory count with the same limit, so an outage neither lets everyone through nor
 * refuses everyone. The fallback is fast: a client that is not connected is not asked at all
 * (rate-limiter-flexible's `rejectIfRedisNotReady`), and an answer that takes longer than `timeoutMs`
 * (default 500) is not waited for. Each fallback is reported to `onFallback` (the boundary and the
 * broker log it with the error's name only).
 */
export type RateLimitStore =
  | { memory: true }
  | {
      redis: unknown;
      keyPrefix: string;
      /** How long to wait for Redis before counting in memory instead. Default 500 ms. */
      timeoutMs?: number;
      /** Called on each consume that Redis could not answer and memory did (a count, a log line). */
      onFallback?: (fallback: RateLimitFallback) => void;
    };

/** A consume that fell back to memory: which limiter, and why (an error; never logged with its message). */
export interface RateLimitFallback {
  limiter: string;
  error: unknown;
}

/**
 * `store` with each fallback to memory logged as a warning naming the limiter and the error's name
 * only (an error message may carry a connection string), then passed to the store's own `onFallback`.
 *
 * @example
 * const store = loggingFallbacks({ redis, keyPrefix: 'baton:rl' }, logger);
 */
export function loggingFallbacks(
  store: RateLimitStore,
  logger: { warn(fields: Record<string, unknown>, message: string): void } | undefined,
): RateLimitStore {
  if (!('redis' in store) || !logger) return store;
  const own = store.onFallback;
  return {
    ...store,
    onFallback: (fallback) => {
      logger.warn(
        { limiter: fallback.limiter, err_name: (fallback.error as Error | undefined)?.name },
        'rate limit store unavailable: counting in this instance',
      );
      own?.(fallback);
    },
  };
}

/** The default wait for a Redis answer before the memory count answers instead. */
const REDIS_TIMEOUT_MS = 500;

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
  /** The memory count a failing Redis falls back to, with its timeout and report. */
  readonly #fallback:
    | { memory: RateLimiterMemory; timeoutMs: number; report: (error: unknown) => void }
    | undefined;

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
      const timeoutMs = store.timeoutMs ?? REDIS_TIMEOUT_MS;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
        throw new TypeError(`rate limit ${name}: timeoutMs must be a positive number`);
      if (store.onFallback !== undefined && typeof store.onFallback !== 'function')
        throw new TypeError(`rate limit ${name}: onFallback must be a function`);
      this.#limiter = new RateLimiterRedis({
        ...options,
        storeClient: store.redis,
        useRedisPackage: nodeRedis,
        keyPrefix: `${store.keyPrefix}:${name}`,
        // A client that is not connected answers at once (and we fall back) rather than queueing.
        rejectIfRedisNotReady: true,
      });
      const onFallback = store.onFallback;
      this.#fallback = {
        memory: new RateLimiterMemory({ ...options, keyPrefix: name }),
        timeoutMs,
        report: (error) => {
          try {
            onFallback?.({ limiter: name, error });
          } catch {
            // A failing report must not fail the call it reports on.
          }
        },
      };
    } else if (store?.memory === true) {
      this.#limiter = new RateLimiterMemory({ ...options, keyPrefix: name });
      this.#fallback = undefined;
    } else {
      throw new TypeError(`rate limit ${name}: store must be { memory: true } or { redis, keyPrefix }`);
    }
  }

  /** Counts `points` against `key`: `undefined` within the limit, otherwise when to try again. */
  async consume(key: string, points = 1): Promise<RateLimited | undefined> {
    const fallback = this.#fallback;
    try {
      if (!fallback) await this.#limiter.consume(key, points);
      else await withTimeout(this.#limiter.consume(key, points), fallback.timeoutMs);
      return undefined;
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return retryAfter(refusal);
      if (!fallback) throw refusal;
      // Redis failed, refused as not ready, or was too slow: this instance counts on its own.
      fallback.report(refusal);
      try {
        await fallback.memory.consume(key, points);
        return undefined;
      } catch (memoryRefusal) {
        if (memoryRefusal instanceof RateLimiterRes) return retryAfter(memoryRefusal);
        throw memoryRefusal;
      }
    }
  }
}

function retryAfter(refusal: RateLimiterRes): RateLimited {
  return { retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
}

/** An error a Redis answer slower than the store's `timeoutMs` is replaced by. */
export class RateLimitStoreTimeout extends Error {
  override readonly name = 'RateLimitStoreTimeout';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RateLimitStoreTimeout(`no answer from Redis in ${ms} ms`)), ms);
  });
  // The late answer (or failure) of a timed-out call is dropped.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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
