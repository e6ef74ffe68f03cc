import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './connections.ts';
import type { RevocationSet } from './revocation-set.ts';

/**
 * A member that is present exactly when the set is known to hold every durable revocation. Real
 * members start with `jti:`, `root:` or `sub:`, so it cannot collide. A FLUSHDB, an eviction or a
 * restart without persistence removes the whole key, sentinel included, so one SMISMEMBER answers both
 * "is any of these revoked?" and "can this answer be trusted?".
 */
export const HYDRATED = '!hydrated';

/** Members per script call: bounded so a large reload never builds one enormous command. */
const CHUNK = 5000;

/**
 * Adds a chunk of members only if this reload's marker is still in the set. The marker is added before
 * PostgreSQL is read; if the key is flushed while the reload runs, the marker goes with it and the
 * reload stops, so the sentinel is never set on top of a partial or stale copy. The last chunk sets the
 * sentinel and removes the marker. `unpack` is limited by Lua's stack, hence the inner loop.
 */
const HYDRATE_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[1], '${HYDRATED}')
  redis.call('SREM', KEYS[1], ARGV[1])
end
return 1`;

const isSet = (flag: unknown) => flag === 1 || flag === true;

/**
 * The revocations every broker instance checks on every introspection and exchange: one Redis set
 * (`<keyPrefix>revoked`) of `<kind>:<value>` members, a copy of the PostgreSQL revocations table.
 * Nothing is cached in the process, so a revocation written by any instance is seen by all at once.
 */
export class RedisRevocationSet implements RevocationSet {
  readonly key: string;
  readonly #redis: RedisConnection;

  constructor(redis: RedisConnection, keyPrefix: string) {
    this.#redis = redis;
    this.key = `${keyPrefix}revoked`;
  }

  /** Which of `members` are revoked; `undefined` when the set has lost its contents and must be reloaded. */
  async revokedAmong(members: readonly string[]): Promise<Set<string> | undefined> {
    const reply = await this.#redis.sendCommand(['SMISMEMBER', this.key, HYDRATED, ...members]);
    if (!Array.isArray(reply) || reply.length !== members.length + 1) {
      throw new Error(`unexpected SMISMEMBER reply from Redis for ${this.key}`);
    }
    if (!isSet(reply[0])) return undefined;
    const revoked = new Set<string>();
    members.forEach((member, index) => {
      if (isSet(reply[index + 1])) revoked.add(member);
    });
    return revoked;
  }

  async add(member: string): Promise<void> {
    await this.#redis.sendCommand(['SADD', this.key, member]);
  }

  async remove(members: readonly string[]): Promise<void> {
    for (let offset = 0; offset < members.length; offset += CHUNK) {
      await this.#redis.sendCommand(['SREM', this.key, ...members.slice(offset, offset + CHUNK)]);
    }
  }

  /**
   * Copies every durable revocation into the set and marks it complete. Only adds: revocations other
   * instances write meanwhile are kept. Returns false when the set was flushed during the reload (the
   * sentinel is then left unset, and the next check reloads again).
   */
  async hydrate(load: () => Promise<readonly string[]>): Promise<boolean> {
    const marker = `!hydrating:${randomUUID()}`;
    await this.#redis.sendCommand(['SADD', this.key, marker]);
    try {
      const members = await load();
      let offset = 0;
      do {
        const chunk = members.slice(offset, offset + CHUNK);
        offset += CHUNK;
        const last = offset >= members.length ? '1' : '0';
        const added = await this.#redis.sendCommand([
          'EVAL',
          HYDRATE_SCRIPT,
          '1',
          this.key,
          marker,
          last,
          ...chunk,
        ]);
        if (!isSet(added)) return false;
      } while (offset < members.length);
      return true;
    } finally {
      await this.#redis.sendCommand(['SREM', this.key, marker]).catch(() => {});
    }
  }
}
