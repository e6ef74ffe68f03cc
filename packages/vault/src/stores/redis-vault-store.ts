import { VaultError } from '../errors.ts';
import type { VaultStore } from '../vault-store.ts';
import { storeCall } from './store-failure.ts';

/**
 * The slice of a node-redis client the store uses. Raw commands keep it independent of the client's
 * generics (modules, RESP version, type mapping), so any connected client fits.
 */
export interface RedisConnection {
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>;
}

export interface RedisVaultStoreOptions {
  /** A connected node-redis client owned by the caller (the store never closes it). */
  readonly redis: RedisConnection;
  /** Prefix of every key, `<prefix><canonical entry id>`. Default `baton:vault:`. */
  readonly keyPrefix?: string;
}

/** Compare-and-set that keeps the key's remaining TTL. */
const REPLACE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0`;

/** SCAN's MATCH is a glob: the prefix must match literally. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Sealed records as Redis strings with an absolute expiry (`PXAT`), so Redis itself drops them on
 * time. Records are plain ASCII JSON; nothing in Redis is usable without the key store.
 */
export class RedisVaultStore implements VaultStore {
  readonly keyPrefix: string;
  readonly #redis: RedisConnection;

  constructor(options: RedisVaultStoreOptions) {
    if (typeof options !== 'object' || options === null || typeof options.redis?.sendCommand !== 'function') {
      throw new TypeError('RedisVaultStore needs { redis: a connected node-redis client }');
    }
    const prefix = options.keyPrefix ?? 'baton:vault:';
    if (typeof prefix !== 'string' || prefix.length === 0)
      throw new TypeError('keyPrefix must be a non-empty string');
    this.#redis = options.redis;
    this.keyPrefix = prefix;
  }

  async put(id: string, record: string, expiresAt: number): Promise<void> {
    const key = this.keyPrefix + id;
    // A past PXAT deletes the key, which is what an already expired put means.
    await storeCall('put', () =>
      this.#redis.sendCommand(['SET', key, record, 'PXAT', String(Math.max(1, expiresAt))]),
    );
  }

  async get(id: string): Promise<string | undefined> {
    const reply = await storeCall('get', () => this.#redis.sendCommand(['GET', this.keyPrefix + id]));
    return typeof reply === 'string' ? reply : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const reply = await storeCall('delete', () => this.#redis.sendCommand(['DEL', this.keyPrefix + id]));
    return reply === 1;
  }

  async replace(id: string, expected: string, next: string): Promise<boolean> {
    const reply = await storeCall('replace', () =>
      this.#redis.sendCommand(['EVAL', REPLACE_SCRIPT, '1', this.keyPrefix + id, expected, next]),
    );
    return reply === 1;
  }

  /** SCAN, not KEYS: incremental, never blocks the server. A key may be yielded twice; callers tolerate it. */
  async *list(): AsyncIterable<string> {
    const match = `${escapeGlob(this.keyPrefix)}*`;
    let cursor = '0';
    do {
      const reply = await storeCall('list', () =>
        this.#redis.sendCommand(['SCAN', cursor, 'MATCH', match, 'COUNT', '500']),
      );
      if (!Array.isArray(reply) || typeof reply[0] !== 'string' || !Array.isArray(reply[1])) {
        throw new VaultError(
          'ERR_VAULT_STORE_FAILED',
          'vault store list failed: unexpected SCAN reply from Redis',
        );
      }
      cursor = reply[0];
      for (const key of reply[1]) if (typeof key === 'string') yield key.slice(this.keyPrefix.length);
    } while (cursor !== '0');
  }
}
