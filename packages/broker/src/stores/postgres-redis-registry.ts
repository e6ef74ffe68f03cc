import { migrationLedger, runMigrations } from '@baton/core/stores';
import type { ReadinessCheck } from '@baton/resource-server/operations';
import { keyOf } from '../registry/memory-registry.ts';
import {
  type IssuedToken,
  type LiftOptions,
  type LiftTarget,
  liftOf,
  type PresentedToken,
  presentedRefusal,
  type RegistryRefusal,
  type RegistryRevocation,
  type RevocationCoverage,
  type RevocationKindAtBroker,
  type RevocationLookup,
  type RevocationTarget,
  type TokenRegistry,
  type TokenStatus,
  targetOf,
  tokenStatus,
} from '../registry/token-registry.ts';
import { type Owned, postgresFrom, type RedisConnection, redisFrom, type SqlPool } from './connections.ts';
import { operationTimeoutOf, withDeadline } from './deadline.ts';
import { RedisRevocationSet } from './redis-revocation-set.ts';
import { type RegistryTables, registryMigrations, registryTables } from './registry-schema.ts';
import {
  type DurableRevocations,
  InProcessRevocationSet,
  type RevocationSet,
  type RevocationSnapshot,
} from './revocation-set.ts';
import { tablePrefixOf } from './table-prefix.ts';

export interface PostgresRedisRegistryOptions {
  /** A pool the caller owns and closes, or a connection string (the registry opens and closes its own pool). */
  pool: SqlPool | string;
  /**
   * A connected node-redis client the caller owns, or a `redis://` URL (the registry owns that client),
   * holding the revocation set every instance checks. Or `'single-process'`: the set lives in this
   * process, which is correct only when no other process uses the same tables (the embedded store,
   * whose data directory is locked to one process).
   */
  redis: RedisConnection | string | 'single-process';
  /** Prefix of the registry's Redis key (`<keyPrefix>revoked`). Default `baton:`. */
  keyPrefix?: string;
  /** Prefix of the registry's tables (`<tablePrefix>issued_tokens`, `<tablePrefix>revocations`). Default `baton_`. */
  tablePrefix?: string;
  /** Every operation rejects after this long, so an unreachable store fails closed promptly. Default 2000. */
  operationTimeoutMs?: number;
}

/** Ancestors fetched per check: `chainIsActive` walks at most 32 hops, so one more row is never needed. */
const MAX_CHAIN = 33;
/** Like the memory registry, sweep expired records every so many writes, in the background. */
const SWEEP_EVERY = 1024;

/** The `kind` column of each revocation kind (`sub` for subjects, as version 1 wrote them). */
const KIND_OF = { jti: 'jti', root: 'root', subject: 'sub', session: 'session', client: 'client' } as const;
/** The `issued_tokens` column a revocation of each kind matches. */
const COLUMN_OF = {
  jti: 'jti',
  root: 'root',
  subject: 'subject',
  session: 'session',
  client: 'client_id',
} as const;
const COLUMNS = 'jti, parent, root, subject, client_id, audience, exp, issued_at, session';

interface TokenRow {
  jti: string;
  parent: string | null;
  root: string;
  subject: string;
  client_id: string;
  audience: string;
  exp: string;
  issued_at: string | null;
  session: string | null;
}

/**
 * The production registry, shared by every broker instance: issued-token records in PostgreSQL,
 * revocations in PostgreSQL (durable) and in a Redis set (checked on every call, never cached here).
 *
 * `isActive` costs two round trips: one recursive query for the token and its ancestors, one
 * SMISMEMBER (for its root and every jti, session and client in the chain) with an HMGET beside it
 * (its subject's `before`), sent together. Revocation writes Redis, then
 * PostgreSQL, then Redis again, so a revocation is visible everywhere before `revoke` resolves and is
 * durable when it does. If the Redis set has lost its contents (flush, eviction, restart), the sentinel
 * member is missing: the answer then comes from PostgreSQL while the set is reloaded from it.
 *
 * Fails closed: when either store is unreachable or slow, `isActive` rejects, never answers true.
 *
 * The embedded store runs this same class, on the same schema, against PGlite (`openEmbeddedDatabase`)
 * with `redis: 'single-process'`: the revocation set is then a copy held in the process, loaded from
 * the revocations table at start.
 *
 * Create with `await PostgresRedisTokenRegistry.create(options)` (migrates, connects, loads the Redis
 * set). The constructor does no I/O; a caller using it must `await registry.migrate()` once.
 */
export class PostgresRedisTokenRegistry implements TokenRegistry {
  readonly tables: RegistryTables;
  readonly revocations: RevocationSet;
  readonly #pool: Owned<SqlPool>;
  /** Undefined in a single process (the revocation set is in memory). */
  readonly #redis: (Owned<RedisConnection> & { ready: Promise<void> }) | undefined;
  readonly #timeoutMs: number;
  readonly #ledger: string;
  #writes = 0;
  #reloading: Promise<boolean> | undefined;
  #closed: Promise<void> | undefined;

  static async create(options: PostgresRedisRegistryOptions): Promise<PostgresRedisTokenRegistry> {
    const registry = new PostgresRedisTokenRegistry(options);
    try {
      if (registry.#redis) {
        await withDeadline(registry.#redis.ready, registry.#timeoutMs, 'connecting to Redis');
      }
      await registry.migrate();
      await registry.rehydrate();
      return registry;
    } catch (error) {
      await registry.close();
      throw error;
    }
  }

  constructor(options: PostgresRedisRegistryOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
    this.#timeoutMs = operationTimeoutOf(options.operationTimeoutMs);
    const prefix = tablePrefixOf(options.tablePrefix);
    this.tables = registryTables(prefix);
    this.#ledger = migrationLedger(prefix);
    const keyPrefix = keyPrefixOf(options.keyPrefix);
    this.#pool = postgresFrom(options.pool, this.#timeoutMs);
    if (options.redis === 'single-process') {
      this.#redis = undefined;
      this.revocations = new InProcessRevocationSet();
    } else {
      this.#redis = redisFrom(options.redis, this.#timeoutMs);
      this.revocations = new RedisRevocationSet(this.#redis.connection, keyPrefix);
    }
  }

  /** Creates the tables if missing. Safe to run from every instance at every start. */
  async migrate(): Promise<void> {
    await runMigrations(this.#pool.connection, {
      component: 'broker-registry',
      ledger: this.#ledger,
      migrations: registryMigrations(this.tables),
    });
  }

  /**
   * Copies the durable revocations into Redis and marks the set complete. `create` runs it at startup,
   * which also repairs a set that missed a write because Redis failed between a revocation's steps.
   */
  rehydrate(): Promise<boolean> {
    return this.#deadline(
      this.revocations.hydrate(() => this.#durableRevocations()),
      'reloading revocations into Redis',
    );
  }

  async record(token: IssuedToken): Promise<void> {
    assertIssuedToken(token);
    if (++this.#writes % SWEEP_EVERY === 0) void this.deleteExpired().catch(() => {});
    return this.#deadline(this.#record(token), 'recording a token');
  }

  find(jti: string): Promise<IssuedToken | undefined> {
    return this.#deadline(this.#find(jti), 'finding a token');
  }

  async revoke(target: RevocationTarget, now = Math.floor(Date.now() / 1000)): Promise<RevocationCoverage> {
    const { kind, value, before } = targetOf(target);
    return this.#deadline(this.#revoke(kind, value, before, now), 'revoking');
  }

  async lift(target: LiftTarget, options: LiftOptions = {}): Promise<boolean> {
    const { kind, value } = liftOf(target);
    if (kind === 'subject' && options.before !== undefined) {
      return this.#deadline(this.#liftToCutOff(value, options.before), 'lifting a revocation');
    }
    return this.#deadline(this.#lift(kind, value), 'lifting a revocation');
  }

  listRevocations(options: { tokens?: boolean } = {}): Promise<RegistryRevocation[]> {
    return this.#deadline(this.#listRevocations(options.tokens === true), 'listing revocations');
  }

  isActive(jti: string, now: number): Promise<boolean> {
    return this.#deadline(
      this.#status(jti, now).then((status) => status.active),
      'checking a token',
    );
  }

  findActive(jti: string, now: number): Promise<IssuedToken | undefined> {
    return this.#deadline(
      this.#status(jti, now).then((status) => (status.active ? status.token : undefined)),
      'checking a token',
    );
  }

  status(jti: string, now: number, clients: readonly string[] = []): Promise<TokenStatus> {
    return this.#deadline(this.#status(jti, now, clients), 'checking a token');
  }

  refusalOf(token: PresentedToken): Promise<RegistryRefusal | undefined> {
    return this.#deadline(this.#refusalOf(token), 'checking a token');
  }

  /**
   * Deletes up to `limit` tokens whose whole subtree has expired, with their jti revocations (in
   * PostgreSQL, then in Redis). Returns how many tokens went; call again while it returns `limit`.
   * `record` also runs it in the background every 1024 writes.
   */
  deleteExpired(now = Math.floor(Date.now() / 1000), limit = 10_000): Promise<number> {
    return this.#deadline(this.#deleteExpired(now, limit), 'deleting expired tokens');
  }

  /** What `/readyz` checks: a PostgreSQL round trip and a Redis PING, each within the probe's deadline. */
  readinessChecks(): ReadinessCheck[] {
    const redis = this.#redis?.connection;
    return [
      { name: 'postgres', check: () => this.#pool.connection.query('SELECT 1') },
      ...(redis ? [{ name: 'redis', check: () => redis.sendCommand(['PING']) }] : []),
    ];
  }

  /** Closes what the registry opened from a URL; a pool or client passed in stays open for its owner. */
  close(): Promise<void> {
    this.#closed ??= Promise.all([this.#redis?.close(), this.#pool.close()]).then(() => undefined);
    return this.#closed;
  }

  async #record(token: IssuedToken): Promise<void> {
    const { tokens } = this.tables;
    // One statement: insert (or replace) the record, and extend `retain_until` of every ancestor so
    // none is deleted while this token may still be presented.
    await this.#pool.connection.query({
      name: `${tokens}:record`,
      text: `
WITH RECURSIVE inserted AS (
  INSERT INTO ${tokens} AS t (jti, parent, root, subject, client_id, audience, exp, retain_until, issued_at, session)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)
  ON CONFLICT (jti) DO UPDATE SET
    parent = EXCLUDED.parent, root = EXCLUDED.root, subject = EXCLUDED.subject,
    client_id = EXCLUDED.client_id, audience = EXCLUDED.audience, exp = EXCLUDED.exp,
    issued_at = EXCLUDED.issued_at, session = EXCLUDED.session,
    retain_until = GREATEST(t.retain_until, EXCLUDED.exp)
  RETURNING jti
), ancestors (jti, parent, depth) AS (
  SELECT jti, parent, 1 FROM ${tokens} WHERE jti = $2
  UNION ALL
  SELECT t.jti, t.parent, a.depth + 1 FROM ${tokens} t JOIN ancestors a ON t.jti = a.parent
  WHERE a.depth < ${MAX_CHAIN}
)
UPDATE ${tokens} SET retain_until = $7
FROM ancestors WHERE ${tokens}.jti = ancestors.jti AND ${tokens}.retain_until < $7`,
      values: [
        token.jti,
        token.parent,
        token.root,
        token.subject,
        token.clientId,
        token.audience,
        token.exp,
        token.issuedAt ?? null,
        token.session ?? null,
      ],
    });
  }

  async #find(jti: string): Promise<IssuedToken | undefined> {
    const { rows } = await this.#pool.connection.query<TokenRow>({
      name: `${this.tables.tokens}:find`,
      text: `SELECT ${COLUMNS} FROM ${this.tables.tokens} WHERE jti = $1`,
      values: [jti],
    });
    return rows[0] && tokenOf(rows[0]);
  }

  /** The token and its ancestors, nearest first, in one round trip. */
  async #chain(jti: string): Promise<Map<string, IssuedToken>> {
    const { tokens } = this.tables;
    const { rows } = await this.#pool.connection.query<TokenRow>({
      name: `${tokens}:chain`,
      text: `
WITH RECURSIVE chain AS (
  SELECT ${COLUMNS}, 1 AS depth FROM ${tokens} WHERE jti = $1
  UNION ALL
  SELECT ${COLUMNS.split(', ')
    .map((column) => `t.${column}`)
    .join(', ')}, c.depth + 1
  FROM ${tokens} t JOIN chain c ON t.jti = c.parent WHERE c.depth < ${MAX_CHAIN}
)
SELECT ${COLUMNS} FROM chain`,
      values: [jti],
    });
    return new Map(rows.map((row) => [row.jti, tokenOf(row)]));
  }

  async #status(jti: string, now: number, clients: readonly string[] = []): Promise<TokenStatus> {
    const chain = await this.#chain(jti);
    const first = chain.get(jti);
    if (!first || first.exp <= now) return { active: false, reason: 'token_unknown' };
    const members = new Set<string>([
      keyOf('root', first.root),
      ...clients.map((client) => keyOf('client', client)),
    ]);
    for (const token of chain.values()) {
      members.add(keyOf('jti', token.jti));
      members.add(keyOf('client', token.clientId));
      if (token.session !== undefined) members.add(keyOf('session', token.session));
    }
    const lookup = await this.#lookup([...members], [first.subject]);
    // The same walk as every registry, over the rows already fetched.
    return tokenStatus({ find: async (id) => chain.get(id) }, lookup, jti, now, clients);
  }

  async #refusalOf(token: PresentedToken): Promise<RegistryRefusal | undefined> {
    const members = [
      ...(token.root !== undefined ? [keyOf('root', token.root)] : []),
      ...(token.session !== undefined ? [keyOf('session', token.session)] : []),
      ...(token.clients ?? []).map((client) => keyOf('client', client)),
    ];
    const subjects = token.subject !== undefined ? [token.subject] : [];
    return presentedRefusal(await this.#lookup(members, subjects), token);
  }

  /** The revocations among `members` and `subjects`: from Redis, or from PostgreSQL while Redis reloads. */
  async #lookup(members: readonly string[], subjects: readonly string[]): Promise<RevocationLookup> {
    const snapshot =
      (await this.revocations.revokedAmong(members, subjects)) ?? (await this.#recover(members, subjects));
    return {
      has: (kind, value) => snapshot.members.has(keyOf(kind, value)),
      subjectBefore: (subject) => snapshot.subjects.get(subject),
    };
  }

  /** Redis lost the set: answer from PostgreSQL, and reload Redis (once per process at a time). */
  async #recover(members: readonly string[], subjects: readonly string[]): Promise<RevocationSnapshot> {
    this.#reloading ??= this.revocations
      .hydrate(() => this.#durableRevocations())
      .finally(() => {
        this.#reloading = undefined;
      });
    const [revoked] = await Promise.all([this.#durablyRevokedAmong(members, subjects), this.#reloading]);
    return revoked;
  }

  async #revoke(
    kind: RevocationKindAtBroker,
    value: string,
    before: number | undefined,
    now: number,
  ): Promise<RevocationCoverage> {
    // Redis first: visible at once, even to a check that races this call. PostgreSQL next: durable.
    // Redis again: a reload that read PostgreSQL just before the insert, after a flush that removed
    // the first write, cannot have left it out. A subject's `before` only ever widens (a later
    // instant, or NULL: disabled), in both stores.
    const inRedis =
      kind === 'subject'
        ? () => this.revocations.addSubject(value, before ?? Number.POSITIVE_INFINITY)
        : () => this.revocations.add(keyOf(kind, value));
    await inRedis();
    await this.#pool.connection.query({
      name: `${this.tables.revocations}:revoke`,
      text: `INSERT INTO ${this.tables.revocations} AS r (kind, value, before) VALUES ($1, $2, $3)
       ON CONFLICT (kind, value) DO UPDATE SET
         before = CASE WHEN r.before IS NULL OR EXCLUDED.before IS NULL THEN NULL
                       ELSE GREATEST(r.before, EXCLUDED.before) END`,
      values: [KIND_OF[kind], value, before ?? null],
    });
    await inRedis();
    return this.#coverage(kind, value, before, now);
  }

  /** Unexpired tokens the revocation matches, with everything exchanged from them, in one query. */
  async #coverage(
    kind: RevocationKindAtBroker,
    value: string,
    before: number | undefined,
    now: number,
  ): Promise<RevocationCoverage> {
    const { tokens } = this.tables;
    const listed = kind === 'jti' || kind === 'root';
    const { rows } = await this.#pool.connection.query<{ jti: string; exp: string; n: number }>({
      name: `${tokens}:coverage:${kind}:${listed}`,
      text: `
WITH RECURSIVE hit (jti, exp, depth) AS (
  SELECT jti, exp, 1 FROM ${tokens}
  WHERE ${COLUMN_OF[kind]} = $1 AND ($3::bigint IS NULL OR issued_at IS NULL OR issued_at < $3::bigint)
  UNION ALL
  SELECT t.jti, t.exp, h.depth + 1 FROM ${tokens} t JOIN hit h ON t.parent = h.jti WHERE h.depth < ${MAX_CHAIN}
)
${listed ? 'SELECT DISTINCT jti, exp FROM hit WHERE exp > $2' : 'SELECT count(DISTINCT jti)::int AS n FROM hit WHERE exp > $2'}`,
      values: [value, now, before ?? null],
    });
    if (!listed) return { covered: Number(rows[0]?.n ?? 0), tokens: [] };
    return { covered: rows.length, tokens: rows.map((row) => ({ jti: row.jti, exp: Number(row.exp) })) };
  }

  /**
   * A disabled subject becomes a cut-off: PostgreSQL first, in one conditional write (a subject not
   * disabled is left alone), then Redis (until then it still reads disabled: closed, never open).
   */
  async #liftToCutOff(subject: string, before: number): Promise<boolean> {
    const { rowCount } = await this.#pool.connection.query({
      name: `${this.tables.revocations}:lift-to-cut-off`,
      text: `UPDATE ${this.tables.revocations} SET before = $2 WHERE kind = 'sub' AND value = $1 AND before IS NULL`,
      values: [subject, before],
    });
    if ((rowCount ?? 0) === 0) return false;
    await this.revocations.setSubject(subject, before);
    return true;
  }

  async #lift(kind: 'subject' | 'client', value: string): Promise<boolean> {
    // PostgreSQL first (the record), then Redis. A reload racing this may copy the row back into Redis
    // from a read made just before the delete: the revocation then stays in force (closed, never open)
    // until lifted again or Redis is reloaded.
    const { rowCount } = await this.#pool.connection.query({
      name: `${this.tables.revocations}:lift`,
      text: `DELETE FROM ${this.tables.revocations} WHERE kind = $1 AND value = $2`,
      values: [KIND_OF[kind], value],
    });
    if (kind === 'subject') await this.revocations.removeSubject(value);
    else await this.revocations.remove([keyOf(kind, value)]);
    return (rowCount ?? 0) > 0;
  }

  async #listRevocations(tokens: boolean): Promise<RegistryRevocation[]> {
    const { rows } = await this.#pool.connection.query<{
      kind: string;
      value: string;
      before: string | null;
    }>(
      `SELECT kind, value, before FROM ${this.tables.revocations}${tokens ? '' : ` WHERE kind <> 'jti'`} ORDER BY revoked_at, kind, value`,
    );
    return rows.map((row) => ({
      kind: (row.kind === 'sub' ? 'subject' : row.kind) as RevocationKindAtBroker,
      value: row.value,
      ...(row.kind === 'sub' && row.before !== null ? { before: Number(row.before) } : {}),
    }));
  }

  async #durableRevocations(): Promise<DurableRevocations> {
    const { rows } = await this.#pool.connection.query<{
      kind: string;
      value: string;
      before: string | null;
    }>(`SELECT kind, value, before FROM ${this.tables.revocations}`);
    const members: string[] = [];
    const subjects: [string, number][] = [];
    for (const row of rows) {
      if (row.kind === 'sub') {
        subjects.push([row.value, row.before === null ? Number.POSITIVE_INFINITY : Number(row.before)]);
      } else {
        members.push(`${row.kind}:${row.value}`);
      }
    }
    return { members, subjects };
  }

  async #durablyRevokedAmong(
    members: readonly string[],
    subjects: readonly string[],
  ): Promise<RevocationSnapshot> {
    const kinds: string[] = [];
    const values: string[] = [];
    for (const member of members) {
      const colon = member.indexOf(':');
      kinds.push(member.slice(0, colon));
      values.push(member.slice(colon + 1));
    }
    for (const subject of subjects) {
      kinds.push('sub');
      values.push(subject);
    }
    const { rows } = await this.#pool.connection.query<{
      kind: string;
      value: string;
      before: string | null;
    }>(
      `SELECT r.kind, r.value, r.before FROM ${this.tables.revocations} r
       JOIN unnest($1::text[], $2::text[]) AS m (kind, value) ON r.kind = m.kind AND r.value = m.value`,
      [kinds, values],
    );
    const revoked = new Set<string>();
    const befores = new Map<string, number>();
    for (const row of rows) {
      if (row.kind === 'sub') {
        befores.set(row.value, row.before === null ? Number.POSITIVE_INFINITY : Number(row.before));
      } else {
        revoked.add(`${row.kind}:${row.value}`);
      }
    }
    return { members: revoked, subjects: befores };
  }

  async #deleteExpired(now: number, limit: number): Promise<number> {
    const { tokens, revocations } = this.tables;
    const { rows } = await this.#pool.connection.query<{ tokens: number; jtis: string[] }>(
      `
WITH gone AS (
  DELETE FROM ${tokens} WHERE jti IN (SELECT jti FROM ${tokens} WHERE retain_until <= $1 LIMIT $2)
  RETURNING jti
), forgotten AS (
  DELETE FROM ${revocations} r USING gone WHERE r.kind = 'jti' AND r.value = gone.jti RETURNING r.value
)
SELECT (SELECT count(*) FROM gone)::int AS tokens,
       coalesce((SELECT array_agg(value) FROM forgotten), '{}') AS jtis`,
      [now, limit],
    );
    const { tokens: deleted = 0, jtis = [] } = rows[0] ?? {};
    await this.revocations.remove(jtis.map((jti) => keyOf('jti', jti)));
    return deleted;
  }

  #deadline<T>(operation: Promise<T>, name: string): Promise<T> {
    return withDeadline(operation, this.#timeoutMs, `token registry: ${name}`);
  }
}

function tokenOf(row: TokenRow): IssuedToken {
  return {
    jti: row.jti,
    parent: row.parent,
    root: row.root,
    subject: row.subject,
    clientId: row.client_id,
    audience: row.audience,
    // bigint arrives as a string; Unix seconds are far inside the safe integer range.
    exp: Number(row.exp),
    ...(row.issued_at !== null && row.issued_at !== undefined ? { issuedAt: Number(row.issued_at) } : {}),
    ...(row.session !== null && row.session !== undefined ? { session: row.session } : {}),
  };
}

function keyPrefixOf(value: unknown): string {
  if (value === undefined) return 'baton:';
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || /\s/.test(value)) {
    throw new TypeError('keyPrefix must be a non-empty string without whitespace');
  }
  return value;
}

function assertIssuedToken(token: IssuedToken): void {
  const strings = [token?.jti, token?.root, token?.subject, token?.clientId, token?.audience];
  if (
    strings.some((value) => typeof value !== 'string' || value.length === 0) ||
    !(token.parent === null || (typeof token.parent === 'string' && token.parent.length > 0)) ||
    !Number.isSafeInteger(token.exp) ||
    !(token.issuedAt === undefined || Number.isSafeInteger(token.issuedAt)) ||
    !(token.session === undefined || (typeof token.session === 'string' && token.session.length > 0))
  ) {
    throw new TypeError(
      'an issued token needs non-empty jti, root, subject, clientId and audience, a parent, and an integer exp',
    );
  }
}
