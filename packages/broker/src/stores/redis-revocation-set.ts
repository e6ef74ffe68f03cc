import { randomUUID } from 'node:crypto';
import type { RedisConnection } from './connections.ts';
import type { DurableRevocations, RevocationSet, RevocationSnapshot } from './revocation-set.ts';

/**
 * A member (and a hash field) that is present exactly when the set is known to hold every durable
 * revocation. Real members start with `jti:`, `root:`, `session:` or `client:`, and subjects are never
 * `!`-prefixed in the hash's sense of it, so it cannot collide. A FLUSHDB, an eviction or a restart
 * without persistence removes the key, sentinel included, so one SMISMEMBER (and one HMGET beside it)
 * answers both "is any of these revoked?" and "can this answer be trusted?".
 */
export const HYDRATED = '!hydrated';

/** Members per script call: bounded so a large reload never builds one enormous command. */
const CHUNK = 5000;

/** How a subject's `before` is held in the hash: Unix seconds, or `all` (disabled). */
const ALL = 'all';
const encodeBefore = (before: number) => (before === Number.POSITIVE_INFINITY ? ALL : String(before));
const decodeBefore = (held: string) => (held === ALL ? Number.POSITIVE_INFINITY : Number(held));

/** Lua: sets a subject's `before` unless what is held already covers as much (`all`, or a later instant). */
const WIDEN = `
local function widen(key, subject, before)
  local held = redis.call('HGET', key, subject)
  if held == '${ALL}' then return end
  if before == '${ALL}' or not held or tonumber(before) > tonumber(held) then
    redis.call('HSET', key, subject, before)
  end
end`;

const WIDEN_SCRIPT = `${WIDEN}
widen(KEYS[1], ARGV[1], ARGV[2])
return 1`;

/**
 * Adds a chunk of members and subjects only if this reload's marker is still in both keys. The marker
 * is added before PostgreSQL is read; if a key is flushed while the reload runs, the marker goes with
 * it and the reload stops, so the sentinel is never set on top of a partial or stale copy. The last
 * chunk sets the sentinels and removes the markers. `unpack` is limited by Lua's stack, hence the loop.
 * ARGV: marker, last, member count n, n members, then subject/before pairs.
 */
const HYDRATE_SCRIPT = `${WIDEN}
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
local n = tonumber(ARGV[3])
for i = 4, 3 + n, 1000 do
  redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, 3 + n)))
end
for i = 4 + n, #ARGV, 2 do
  widen(KEYS[2], ARGV[i], ARGV[i + 1])
end
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[1], '${HYDRATED}')
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], '${HYDRATED}', '1')
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1`;

const isSet = (flag: unknown) => flag === 1 || flag === true;

/**
 * The revocations every broker instance checks on every introspection and exchange: one Redis set
 * (`<keyPrefix>revoked`) of `<kind>:<value>` members, and one hash (`<keyPrefix>revoked-subjects`) of
 * subject → `before` (Unix seconds, or `all`), a copy of the PostgreSQL revocations table. A check is
 * SMISMEMBER and HMGET sent together (node-redis writes commands of one tick in one batch, so the two
 * cost one round trip). Nothing is cached in the process, so a revocation written by any instance is
 * seen by all at once.
 */
export class RedisRevocationSet implements RevocationSet {
  readonly key: string;
  readonly subjectsKey: string;
  readonly #redis: RedisConnection;

  constructor(redis: RedisConnection, keyPrefix: string) {
    this.#redis = redis;
    this.key = `${keyPrefix}revoked`;
    this.subjectsKey = `${keyPrefix}revoked-subjects`;
  }

  /** What of `members` and `subjects` is revoked; `undefined` when either key lost its contents and must be reloaded. */
  async revokedAmong(
    members: readonly string[],
    subjects: readonly string[],
  ): Promise<RevocationSnapshot | undefined> {
    const [inSet, befores] = await Promise.all([
      this.#redis.sendCommand(['SMISMEMBER', this.key, HYDRATED, ...members]),
      this.#redis.sendCommand(['HMGET', this.subjectsKey, HYDRATED, ...subjects]),
    ]);
    if (!Array.isArray(inSet) || inSet.length !== members.length + 1) {
      throw new Error(`unexpected SMISMEMBER reply from Redis for ${this.key}`);
    }
    if (!Array.isArray(befores) || befores.length !== subjects.length + 1) {
      throw new Error(`unexpected HMGET reply from Redis for ${this.subjectsKey}`);
    }
    if (!isSet(inSet[0]) || befores[0] === null || befores[0] === undefined) return undefined;
    const revoked = new Set<string>();
    members.forEach((member, index) => {
      if (isSet(inSet[index + 1])) revoked.add(member);
    });
    const before = new Map<string, number>();
    subjects.forEach((subject, index) => {
      const held = befores[index + 1];
      if (held !== null && held !== undefined) before.set(subject, decodeBefore(String(held)));
    });
    return { members: revoked, subjects: before };
  }

  async add(member: string): Promise<void> {
    await this.#redis.sendCommand(['SADD', this.key, member]);
  }

  async addSubject(subject: string, before: number): Promise<void> {
    await this.#redis.sendCommand([
      'EVAL',
      WIDEN_SCRIPT,
      '1',
      this.subjectsKey,
      subject,
      encodeBefore(before),
    ]);
  }

  async remove(members: readonly string[]): Promise<void> {
    for (let offset = 0; offset < members.length; offset += CHUNK) {
      await this.#redis.sendCommand(['SREM', this.key, ...members.slice(offset, offset + CHUNK)]);
    }
  }

  async removeSubject(subject: string): Promise<void> {
    await this.#redis.sendCommand(['HDEL', this.subjectsKey, subject]);
  }

  async setSubject(subject: string, before: number): Promise<void> {
    await this.#redis.sendCommand(['HSET', this.subjectsKey, subject, encodeBefore(before)]);
  }

  /**
   * Copies every durable revocation into the set and the hash and marks them complete. Only adds (and
   * widens): revocations other instances write meanwhile are kept. Returns false when a key was flushed
   * during the reload (the sentinels are then left unset, and the next check reloads again).
   */
  async hydrate(load: () => Promise<DurableRevocations>): Promise<boolean> {
    const marker = `!hydrating:${randomUUID()}`;
    await this.#redis.sendCommand(['SADD', this.key, marker]);
    await this.#redis.sendCommand(['HSET', this.subjectsKey, marker, '1']);
    try {
      const { members, subjects } = await load();
      const pairs = subjects.flatMap(([subject, before]) => [subject, encodeBefore(before)]);
      let offset = 0;
      let pairOffset = 0;
      do {
        const chunk = members.slice(offset, offset + CHUNK);
        const pairChunk = pairs.slice(pairOffset, pairOffset + 2 * CHUNK);
        offset += CHUNK;
        pairOffset += 2 * CHUNK;
        const last = offset >= members.length && pairOffset >= pairs.length ? '1' : '0';
        const added = await this.#redis.sendCommand([
          'EVAL',
          HYDRATE_SCRIPT,
          '2',
          this.key,
          this.subjectsKey,
          marker,
          last,
          String(chunk.length),
          ...chunk,
          ...pairChunk,
        ]);
        if (!isSet(added)) return false;
      } while (offset < members.length || pairOffset < pairs.length);
      return true;
    } finally {
      await this.#redis.sendCommand(['SREM', this.key, marker]).catch(() => {});
      await this.#redis.sendCommand(['HDEL', this.subjectsKey, marker]).catch(() => {});
    }
  }
}
