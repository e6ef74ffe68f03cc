import type { KeyValueStore } from '@baton/core/stores';

/** Where an approval stands. `used` once a call ran under it: it never covers another. */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'used';

/** One approval request: what the person is shown, and what it is bound to. Holds no token. */
export interface ApprovalRecord {
  id: string;
  /** `approvalDigest` of the call (tool, canonical input, agent, subject, session). */
  digest: string;
  tool: string;
  /** The tool input, shown to the person as it will run. */
  input: unknown;
  agent: string;
  /** The person who must approve (the token's `sub`) and the issuer that named them. */
  subject: string;
  issuer: string;
  tenant: string | null;
  session: string;
  /** The policy rules (`@id`) that asked for approval. */
  rules: readonly string[];
  status: ApprovalStatus;
  /** Epoch seconds. */
  createdAt: number;
  expiresAt: number;
}

/**
 * Where approvals live between the call that asked for one, the approval page, and the retried call.
 * `memoryApprovalStore()` serves one instance; `keyValueApprovalStore(store)` shares them through any
 * `KeyValueStore` (`@baton/vault`'s Redis or PostgreSQL stores), so the page and the retry may reach
 * different instances.
 */
export interface ApprovalStore {
  put(record: ApprovalRecord, ttlSeconds: number): Promise<void>;
  get(id: string): Promise<ApprovalRecord | undefined>;
  /** The latest approval asked for this digest, by id. */
  latestFor(digest: string): Promise<string | undefined>;
  /**
   * Moves `id` from `from` to `to` when it is in `from`; returns the record as it was, or undefined
   * when it was not in `from` (someone else moved it first). One-time use rests on this.
   */
  transition(
    id: string,
    from: ApprovalStatus,
    to: ApprovalStatus,
    ttlSeconds: number,
  ): Promise<ApprovalRecord | undefined>;
  /** Short-lived values of the approval page's sign-in (state → pending sign-in), shared like approvals. */
  putValue(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Reads and removes a value: a sign-in state is used once. */
  takeValue(key: string): Promise<string | undefined>;
}

/**
 * One instance's approvals, in memory. Transitions are synchronous, so one-time use holds however many
 * retries race.
 *
 * @example
 * new IdentityBoundary({ ..., approval: { ..., store: memoryApprovalStore() } });
 */
export function memoryApprovalStore(options: { now?: () => number } = {}): ApprovalStore {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expires: number }>();
  const read = (key: string): string | undefined => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.value;
  };
  const write = (key: string, value: string, ttlSeconds: number) => {
    entries.set(key, { value, expires: now() + ttlSeconds * 1000 });
    // Bounded by expiry: sweep a few expired entries on every write.
    let swept = 0;
    for (const [other, entry] of entries) {
      if (swept++ > 8) break;
      if (entry.expires <= now()) entries.delete(other);
    }
  };
  return {
    async put(record, ttlSeconds) {
      write(`approval:${record.id}`, JSON.stringify(record), ttlSeconds);
      write(`digest:${record.digest}`, record.id, ttlSeconds);
    },
    async get(id) {
      const value = read(`approval:${id}`);
      return value === undefined ? undefined : (JSON.parse(value) as ApprovalRecord);
    },
    async latestFor(digest) {
      return read(`digest:${digest}`);
    },
    async transition(id, from, to, ttlSeconds) {
      const value = read(`approval:${id}`);
      if (value === undefined) return undefined;
      const record = JSON.parse(value) as ApprovalRecord;
      if (record.status !== from) return undefined;
      write(`approval:${id}`, JSON.stringify({ ...record, status: to }), ttlSeconds);
      return record;
    },
    async putValue(key, value, ttlSeconds) {
      write(`value:${key}`, value, ttlSeconds);
    },
    async takeValue(key) {
      const value = read(`value:${key}`);
      entries.delete(`value:${key}`);
      return value;
    },
  };
}

/**
 * Approvals shared by several instances through a `KeyValueStore`, keys under `prefix`. A
 * `KeyValueStore` has no compare-and-set, so a transition is a read, a check and a write: give the
 * store a `take(key)` that reads and deletes in one step (Redis `GETDEL`, PostgreSQL
 * `DELETE … RETURNING`) and one-time use holds across instances; without it, two retries racing on two
 * instances inside one round trip could both pass.
 *
 * @example
 * keyValueApprovalStore(redisKeyValue, { prefix: 'orders-mcp:approvals:' });
 */
export function keyValueApprovalStore(
  store: KeyValueStore & { take?(key: string): Promise<string | undefined> },
  options: { prefix?: string } = {},
): ApprovalStore {
  const prefix = options.prefix ?? 'baton:approval:';
  const take = async (key: string): Promise<string | undefined> => {
    if (store.take) return store.take(key);
    const value = await store.get(key);
    if (value !== undefined) await store.delete(key);
    return value;
  };
  return {
    async put(record, ttlSeconds) {
      await store.set(`${prefix}a:${record.id}`, JSON.stringify(record), ttlSeconds);
      await store.set(`${prefix}d:${record.digest}`, record.id, ttlSeconds);
    },
    async get(id) {
      const value = await store.get(`${prefix}a:${id}`);
      return value === undefined ? undefined : (JSON.parse(value) as ApprovalRecord);
    },
    latestFor: (digest) => store.get(`${prefix}d:${digest}`),
    async transition(id, from, to, ttlSeconds) {
      // Taken, then written back in its new state: whoever takes it first moves it.
      const value = await take(`${prefix}a:${id}`);
      if (value === undefined) return undefined;
      const record = JSON.parse(value) as ApprovalRecord;
      const next = record.status === from ? to : record.status;
      await store.set(`${prefix}a:${id}`, JSON.stringify({ ...record, status: next }), ttlSeconds);
      return record.status === from ? record : undefined;
    },
    putValue: (key, value, ttlSeconds) => store.set(`${prefix}v:${key}`, value, ttlSeconds),
    takeValue: (key) => take(`${prefix}v:${key}`),
  };
}
