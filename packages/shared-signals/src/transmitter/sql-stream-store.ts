import {
  type Migration,
  type MigrationPool,
  migrationLedger,
  runMigrations,
  TABLE_PREFIX,
} from '@baton/core/stores';
import { DELIVERY_METHODS } from '../events.ts';
import type { QueuedSet, StoredStream, StreamStatus } from './stream.ts';
import type { SetToQueue, StreamStore } from './stream-store.ts';

/**
 * The slice of a `pg` `Pool` the store uses: a `pg.Pool` fits as is, and so does the broker's embedded
 * PGlite database, so `@baton/shared-signals` imports no database driver.
 */
export interface SqlStreamPool extends MigrationPool {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface SqlStreamStoreOptions {
  pool: SqlStreamPool;
  /** Prefix of the tables (`<prefix>ssf_streams`, `<prefix>ssf_queue`) and of the migration ledger. Default `baton_`. */
  tablePrefix?: string;
}

interface StreamRow {
  data: StoredStream | string;
  status: StreamStatus;
  last_seen_at: string | number;
}

interface QueueRow {
  stream_id: string;
  jti: string;
  token: string;
  control: boolean;
  attempts: number;
}

function migrations(streams: string, queue: string): Migration[] {
  return [
    {
      version: 1,
      description: 'Shared Signals transmitter streams and their queued SETs',
      sql: `
CREATE TABLE ${streams} (
  stream_id text PRIMARY KEY,
  receiver_id text NOT NULL,
  status text NOT NULL,
  push boolean NOT NULL,
  created_at bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  data jsonb NOT NULL
);
CREATE INDEX ${streams}_receiver_idx ON ${streams} (receiver_id, created_at);
CREATE TABLE ${queue} (
  stream_id text NOT NULL REFERENCES ${streams} (stream_id) ON DELETE CASCADE,
  jti text NOT NULL,
  seq bigserial NOT NULL,
  token text NOT NULL,
  control boolean NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  due_at bigint NOT NULL,
  PRIMARY KEY (stream_id, jti)
);
CREATE INDEX ${queue}_order_idx ON ${queue} (stream_id, seq);
CREATE INDEX ${queue}_due_idx ON ${queue} (due_at);`,
    },
  ];
}

/**
 * Streams and queued SETs in PostgreSQL (or the broker's embedded PGlite), shared by every transmitter
 * instance of a deployment: any instance answers a poll from the queue, and every instance's retry
 * loop claims due pushes with `FOR UPDATE SKIP LOCKED`, so a failed push is redelivered by whichever
 * instance is up, and two instances never push the same SET at once (within its lease).
 *
 * Create with `await SqlStreamStore.create({ pool, tablePrefix })` (runs its migrations).
 */
export class SqlStreamStore implements StreamStore {
  readonly #pool: SqlStreamPool;
  readonly #prefix: string;
  readonly #streams: string;
  readonly #queue: string;

  static async create(options: SqlStreamStoreOptions): Promise<SqlStreamStore> {
    const store = new SqlStreamStore(options);
    await store.migrate();
    return store;
  }

  constructor(options: SqlStreamStoreOptions) {
    if (!options?.pool || typeof options.pool.query !== 'function') throw new TypeError('pool is required');
    const prefix = options.tablePrefix ?? 'baton_';
    if (!TABLE_PREFIX.test(prefix)) throw new TypeError(`tablePrefix must match ${TABLE_PREFIX}`);
    this.#pool = options.pool;
    this.#prefix = prefix;
    this.#streams = `${prefix}ssf_streams`;
    this.#queue = `${prefix}ssf_queue`;
  }

  /** Creates the tables if missing. Safe to run from every instance at every start. */
  async migrate(): Promise<void> {
    await runMigrations(this.#pool, {
      component: 'shared-signals-transmitter',
      ledger: migrationLedger(this.#prefix),
      migrations: migrations(this.#streams, this.#queue),
    });
  }

  async createStream(stream: StoredStream): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#streams} (stream_id, receiver_id, status, push, created_at, last_seen_at, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        stream.streamId,
        stream.receiverId,
        stream.status,
        stream.delivery.method === DELIVERY_METHODS.push,
        stream.createdAt,
        stream.lastSeenAt,
        JSON.stringify(stream),
      ],
    );
  }

  async getStream(streamId: string): Promise<StoredStream | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT data, status, last_seen_at FROM ${this.#streams} WHERE stream_id = $1`,
      [streamId],
    );
    return rows.length ? streamOf(rows[0] as StreamRow) : undefined;
  }

  async listStreams(receiverId: string): Promise<StoredStream[]> {
    const { rows } = await this.#pool.query(
      `SELECT data, status, last_seen_at FROM ${this.#streams} WHERE receiver_id = $1 ORDER BY created_at, stream_id`,
      [receiverId],
    );
    return (rows as StreamRow[]).map(streamOf);
  }

  async receivingStreams(): Promise<StoredStream[]> {
    const { rows } = await this.#pool.query(
      `SELECT data, status, last_seen_at FROM ${this.#streams} WHERE status <> 'disabled'`,
    );
    return (rows as StreamRow[]).map(streamOf);
  }

  async updateStream(stream: StoredStream): Promise<boolean> {
    const {
      status: _status,
      reason: _reason,
      lastError: _error,
      lastSeenAt: _seen,
      ...configuration
    } = stream;
    // The configuration from the caller; status, reason and last error as stored.
    const { rows } = await this.#pool.query(
      `UPDATE ${this.#streams}
       SET push = $3,
           data = $2::jsonb || jsonb_strip_nulls(jsonb_build_object(
             'status', status, 'reason', data->'reason', 'lastError', data->'lastError'))
       WHERE stream_id = $1 RETURNING stream_id`,
      [stream.streamId, JSON.stringify(configuration), stream.delivery.method === DELIVERY_METHODS.push],
    );
    return rows.length > 0;
  }

  async setStatus(streamId: string, status: StreamStatus, reason: string | undefined): Promise<boolean> {
    const { rows } = await this.#pool.query(
      `UPDATE ${this.#streams}
       SET status = $2,
           data = (data - 'status' - 'reason') || jsonb_strip_nulls(jsonb_build_object('status', $2::text, 'reason', $3::text))
       WHERE stream_id = $1 RETURNING stream_id`,
      [streamId, status, reason ?? null],
    );
    return rows.length > 0;
  }

  async recordError(streamId: string, error: NonNullable<StoredStream['lastError']>): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#streams} SET data = jsonb_set(data, '{lastError}', $2::jsonb) WHERE stream_id = $1`,
      [streamId, JSON.stringify(error)],
    );
  }

  async deleteStream(streamId: string): Promise<boolean> {
    const { rows } = await this.#pool.query(
      `DELETE FROM ${this.#streams} WHERE stream_id = $1 RETURNING stream_id`,
      [streamId],
    );
    return rows.length > 0;
  }

  async touch(streamId: string, at: number): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#streams} SET last_seen_at = $2 WHERE stream_id = $1 AND last_seen_at < $2`,
      [streamId, at],
    );
  }

  async enqueue(streamId: string, sets: readonly SetToQueue[], at: number): Promise<number | undefined> {
    try {
      if (sets.length) {
        await this.#pool.query(
          `INSERT INTO ${this.#queue} (stream_id, jti, token, control, due_at)
           SELECT $1, jti, token, control, $5
           FROM unnest($2::text[], $3::text[], $4::boolean[]) AS s (jti, token, control)
           ON CONFLICT (stream_id, jti) DO NOTHING`,
          [streamId, sets.map((s) => s.jti), sets.map((s) => s.set), sets.map((s) => s.control), at],
        );
      }
    } catch (error) {
      // 23503 foreign_key_violation: the stream was deleted meanwhile.
      if ((error as { code?: string }).code === '23503') return undefined;
      throw error;
    }
    const { rows } = await this.#pool.query(
      `SELECT (SELECT count(*) FROM ${this.#queue} WHERE stream_id = $1) AS queued,
              EXISTS (SELECT 1 FROM ${this.#streams} WHERE stream_id = $1) AS present`,
      [streamId],
    );
    const row = rows[0] as { queued: string | number; present: boolean };
    return row.present ? Number(row.queued) : undefined;
  }

  async clearQueue(streamId: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#queue} WHERE stream_id = $1`, [streamId]);
  }

  async pending(streamId: string, max: number, controlOnly: boolean): Promise<QueuedSet[]> {
    const { rows } = await this.#pool.query(
      `SELECT stream_id, jti, token, control, attempts FROM ${this.#queue}
       WHERE stream_id = $1 AND (control OR NOT $3) ORDER BY seq LIMIT $2`,
      [streamId, max, controlOnly],
    );
    return (rows as QueueRow[]).map(queuedOf);
  }

  async acknowledge(streamId: string, jtis: readonly string[]): Promise<void> {
    if (!jtis.length) return;
    await this.#pool.query(`DELETE FROM ${this.#queue} WHERE stream_id = $1 AND jti = ANY($2::text[])`, [
      streamId,
      [...jtis],
    ]);
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<QueuedSet[]> {
    const { rows } = await this.#pool.query(
      `WITH due AS (
         SELECT q.stream_id, q.jti FROM ${this.#queue} q
         JOIN ${this.#streams} s ON s.stream_id = q.stream_id
         WHERE q.due_at <= $1 AND s.push
           AND (s.status = 'enabled' OR q.control)
         ORDER BY q.due_at, q.seq
         LIMIT $3
         FOR UPDATE OF q SKIP LOCKED
       )
       UPDATE ${this.#queue} q SET due_at = $2, attempts = q.attempts + 1
       FROM due WHERE q.stream_id = due.stream_id AND q.jti = due.jti
       RETURNING q.stream_id, q.jti, q.token, q.control, q.attempts`,
      [now, leaseUntil, limit],
    );
    return (rows as QueueRow[]).map(queuedOf);
  }

  async reschedule(streamId: string, jti: string, at: number): Promise<void> {
    await this.#pool.query(`UPDATE ${this.#queue} SET due_at = $3 WHERE stream_id = $1 AND jti = $2`, [
      streamId,
      jti,
      at,
    ]);
  }

  async expireStreams(idleBefore: number): Promise<string[]> {
    const { rows } = await this.#pool.query(
      `DELETE FROM ${this.#streams} WHERE last_seen_at < $1 RETURNING stream_id`,
      [idleBefore],
    );
    return (rows as { stream_id: string }[]).map((row) => row.stream_id);
  }
}

function streamOf(row: StreamRow): StoredStream {
  const stream = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as StoredStream;
  return { ...stream, status: row.status, lastSeenAt: Number(row.last_seen_at) };
}

function queuedOf(row: QueueRow): QueuedSet {
  return {
    streamId: row.stream_id,
    jti: row.jti,
    set: row.token,
    control: row.control,
    attempts: Number(row.attempts),
  };
}
