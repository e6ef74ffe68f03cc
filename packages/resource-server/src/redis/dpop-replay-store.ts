import type { DpopReplayStore } from '../dpop/replay-store.ts';

/** The slice of a node-redis client the store uses (a raw command keeps it independent of the client's generics). */
export interface RedisDpopReplayClient {
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>;
}

export interface RedisDpopReplayStoreOptions {
  /** A connected node-redis client; it stays yours (the store never closes it). Required. */
  redis: RedisDpopReplayClient;
  /** Prefix of the keys, one per deployment and resource: `baton:dpop:orders-mcp:`. Required. */
  keyPrefix: string;
}

/**
 * A `DpopReplayStore` shared by every instance of a resource: one `SET key 1 NX EXAT <expiry>` per
 * proof, so the first instance to see a `jti` records it atomically and every other instance finds it,
 * and Redis forgets it when the proof could no longer be accepted anyway. A Redis error is thrown,
 * and the proof refused (503): a replay check that cannot answer does not let a proof through.
 *
 * @example
 * const redis = await createClient({ url: 'redis://127.0.0.1:6379' }).connect();
 * const replay = new RedisDpopReplayStore({ redis, keyPrefix: 'baton:dpop:orders-mcp:' });
 */
export class RedisDpopReplayStore implements DpopReplayStore {
  readonly #redis: RedisDpopReplayClient;
  readonly #keyPrefix: string;

  constructor(options: RedisDpopReplayStoreOptions) {
    if (typeof options?.redis?.sendCommand !== 'function')
      throw new TypeError('RedisDpopReplayStore: redis must be a connected node-redis client');
    if (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
      throw new TypeError('RedisDpopReplayStore: keyPrefix is required');
    this.#redis = options.redis;
    this.#keyPrefix = options.keyPrefix;
  }

  async unique(jti: string, expiresAtSeconds: number): Promise<boolean> {
    const reply = await this.#redis.sendCommand([
      'SET',
      `${this.#keyPrefix}${jti}`,
      '1',
      'NX',
      'EXAT',
      String(Math.ceil(expiresAtSeconds)),
    ]);
    return reply === 'OK';
  }
}
