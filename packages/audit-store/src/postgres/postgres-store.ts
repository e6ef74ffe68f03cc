import type { KeyObject } from 'node:crypto';
import type { AuditEvent, AuditQuery, AuditReader, AuditSink } from '@baton/audit';
import type { Pool } from 'pg';
import { canonicalJson } from '../canonical-json.ts';
import { type ChainHead, ChainLog } from '../chain-log.ts';
import { type CheckpointPublicJwk, CheckpointSigner } from '../checkpoint-signer.ts';
import { AuditStoreError } from '../errors.ts';
import { validateEvent } from '../event-validation.ts';
import { readKeyFile } from '../key-file.ts';
import {
  type AuditFailurePolicy,
  checkCheckpointEvery,
  checkDirectory,
  checkSigningKey,
  checkWriter,
} from '../options.ts';
import { ensurePrivateDirectory, tightenPrivateFile } from '../private-files.ts';
import { checkQuery } from '../select-events.ts';
import { insertBatch, writerConflict } from './insert-batch.ts';
import { DEFAULT_RETRY_DELAY, OutboxDrain, type RetryDelay } from './outbox-drain.ts';
import { outboxPaths, readOutboxState, writeOutboxState } from './outbox-state.ts';
import { querySql } from './query-sql.ts';
import { type AuditTables, auditTables, migrate, TABLE_PREFIX } from './schema.ts';

export interface PostgresAuditStoreOptions {
  /** A pg pool owned by the caller (the store never ends it). */
  pool: Pool;
  /** Prefix of the table names (`<prefix>audit_events`, `…audit_checkpoints`, `…audit_keys`). Default `baton_`. */
  tablePrefix?: string;
  /** Local directory for the write-ahead outbox; keep it on persistent storage. Created if missing. */
  outboxDirectory: string;
  /** This process's chain. Unique per running process; bound to its outbox directory. */
  writer: string;
  /** What `write` does when PostgreSQL is down. Default `fail-closed`. */
  failurePolicy?: AuditFailurePolicy;
  /** Sign a checkpoint after this many events (and on close). Default 1000. */
  checkpointEvery?: number;
  /** EC P-256 private key for checkpoints. Default: a fresh key per open, never written to disk. */
  signingKey?: KeyObject;
  /** Empty the outbox file once it is fully drained and larger than this. Default 1 MiB. */
  rotateBytes?: number;
  /**
   * Backoff of the background drain after PostgreSQL failed, in ms: doubling from `min`, capped at
   * `max`. Default `{ min: 100, max: 5000 }`. A fail-closed `write` never waits for it (it tries at once).
   */
  drainRetryMs?: RetryDelay;
}

/**
 * Audit events in PostgreSQL behind a local write-ahead outbox. `write` first appends the event (hash
 * chained, like the file store) to the outbox and fdatasyncs it, then inserts it into PostgreSQL, so no
 * acknowledged event depends on the database being up:
 * - `fail-closed` (default): `write` resolves once the event is in PostgreSQL, and rejects with
 *   `ERR_AUDIT_STORE_UNAVAILABLE` when it cannot get there; the event stays in the outbox and a later
 *   drain inserts it (the record then shows the action was attempted; the caller refused it);
 * - `buffer`: `write` resolves once the event is durable in the outbox; a background drain (retrying
 *   with backoff) inserts it when PostgreSQL is back.
 * Opening drains whatever the outbox still holds, exactly once per record.
 */
export class PostgresAuditStore implements AuditSink, AuditReader {
  readonly writer: string;
  readonly tables: AuditTables;
  readonly failurePolicy: AuditFailurePolicy;
  /** The outbox file. */
  readonly outboxPath: string;
  readonly #pool: Pool;
  readonly #log: ChainLog;
  readonly #drain: OutboxDrain;
  readonly #statePath: string;
  readonly #keysPath: string;
  readonly #rotateBytes: number;
  readonly #signer: CheckpointSigner;
  #ready: Promise<void> | undefined;

  private constructor(
    options: {
      pool: Pool;
      tables: AuditTables;
      writer: string;
      failurePolicy: AuditFailurePolicy;
      rotateBytes: number;
      retry: RetryDelay;
      outboxPath: string;
      statePath: string;
      keysPath: string;
    },
    log: ChainLog,
    drainedSeq: number,
    signer: CheckpointSigner,
  ) {
    this.#pool = options.pool;
    this.tables = options.tables;
    this.writer = options.writer;
    this.failurePolicy = options.failurePolicy;
    this.#rotateBytes = options.rotateBytes;
    this.outboxPath = options.outboxPath;
    this.#statePath = options.statePath;
    this.#keysPath = options.keysPath;
    this.#log = log;
    this.#signer = signer;
    this.#drain = new OutboxDrain(
      {
        prepare: () => this.#prepare(),
        insert: (rows, checkpoints) => insertBatch(this.#pool, this.tables, this.writer, rows, checkpoints),
        drained: () => this.#rotateIfDrained(),
      },
      drainedSeq,
      options.retry,
    );
  }

  /**
   * Recovers the outbox and tries to drain it. PostgreSQL being down does not fail `open` (the outbox
   * is the point); a writer conflict (another chain under this writer name) or an outbox record
   * PostgreSQL refuses for good (`ERR_AUDIT_STORE_REJECTED`) does.
   */
  static async open(options: PostgresAuditStoreOptions): Promise<PostgresAuditStore> {
    const owner = 'PostgresAuditStore';
    if (options === null || typeof options !== 'object' || typeof options.pool?.query !== 'function') {
      throw new TypeError(`${owner}.open needs { pool: pg.Pool, outboxDirectory, writer }`);
    }
    const prefix = options.tablePrefix ?? 'baton_';
    if (typeof prefix !== 'string' || !TABLE_PREFIX.test(prefix)) {
      throw new TypeError(`${owner}: tablePrefix must match ${TABLE_PREFIX}`);
    }
    const directory = checkDirectory(owner, 'outboxDirectory', options.outboxDirectory);
    const writer = checkWriter(owner, options.writer);
    const failurePolicy = options.failurePolicy ?? 'fail-closed';
    if (failurePolicy !== 'fail-closed' && failurePolicy !== 'buffer') {
      throw new TypeError(`${owner}: failurePolicy must be 'fail-closed' or 'buffer'`);
    }
    const checkpointEvery = checkCheckpointEvery(owner, options.checkpointEvery);
    const signingKey = checkSigningKey(owner, options.signingKey);
    const rotateBytes = options.rotateBytes ?? 1 << 20;
    if (!Number.isSafeInteger(rotateBytes) || rotateBytes < 0) {
      throw new TypeError(`${owner}: rotateBytes must be a non-negative integer`);
    }
    const retry = options.drainRetryMs ?? DEFAULT_RETRY_DELAY;
    if (
      retry === null ||
      typeof retry !== 'object' ||
      !Number.isSafeInteger(retry.min) ||
      !Number.isSafeInteger(retry.max) ||
      retry.min < 1 ||
      retry.max < retry.min ||
      retry.max > 2 ** 31 - 1
    ) {
      throw new TypeError(`${owner}: drainRetryMs must be { min, max } with 1 <= min <= max <= 2^31-1`);
    }
    const signer = CheckpointSigner.from(signingKey, owner);
    const paths = outboxPaths(directory, writer);
    await ensurePrivateDirectory(directory);
    await tightenPrivateFile(paths.state);
    const base = await readOutboxState(paths.state).catch((cause) => {
      throw new AuditStoreError('ERR_AUDIT_LOG_TAMPERED', `${paths.state} is unreadable`, { cause });
    });
    const { log, entries } = await ChainLog.open({
      logPath: paths.log,
      keysPath: paths.keys,
      lockPath: paths.lock,
      writer,
      checkpointEvery,
      signer,
      base,
      owner: `${owner} outbox`,
    });
    const store = new PostgresAuditStore(
      {
        pool: options.pool,
        tables: auditTables(prefix),
        writer,
        failurePolicy,
        rotateBytes,
        retry: { min: retry.min, max: retry.max },
        outboxPath: paths.log,
        statePath: paths.state,
        keysPath: paths.keys,
      },
      log,
      base.seq,
      signer,
    );
    for (const entry of entries) {
      if (entry.kind === 'record') {
        store.#drain.add({
          kind: 'record',
          durable: true,
          record: entry.record,
          eventJson: canonicalJson(entry.record.event),
        });
      } else if (entry.checkpoint.checkpoint.seq > base.seq) {
        store.#drain.add({ kind: 'checkpoint', durable: true, checkpoint: entry.checkpoint });
      }
    }
    try {
      await store.#drain.drainNow();
    } catch (error) {
      if (!(error instanceof AuditStoreError && error.code === 'ERR_AUDIT_STORE_UNAVAILABLE')) {
        await store.close();
        throw error;
      }
    }
    return store;
  }

  /**
   * The outbox's depth and lag, for metrics (`auditOutboxMetrics` in `@baton/resource-server/operations`):
   * events written here but not yet in PostgreSQL, and the age in seconds of the oldest (0 when none).
   */
  outboxStatus(): { pending: number; lagSeconds: number } {
    const oldest = this.#drain.oldestPending?.record.event.time;
    const since = typeof oldest === 'string' ? Date.parse(oldest) : Number.NaN;
    return {
      pending: this.#drain.pending,
      lagSeconds: Number.isNaN(since) ? 0 : Math.max(0, (Date.now() - since) / 1000),
    };
  }

  /**
   * Resolves per the failure policy (see the class). Rejects, never drops: with `ERR_AUDIT_STORE_UNAVAILABLE`
   * (fail-closed, PostgreSQL down; the event is kept in the outbox), `ERR_AUDIT_STORE_WRITE_FAILED` (the
   * outbox itself failed), `ERR_AUDIT_STORE_WRITER_CONFLICT`, `ERR_AUDIT_STORE_REJECTED` (PostgreSQL
   * refused an outbox record for good; draining has stopped), `ERR_AUDIT_STORE_CLOSED` or
   * `ERR_AUDIT_EVENT_INVALID`.
   */
  async write(event: AuditEvent): Promise<void> {
    validateEvent(event);
    if (this.#drain.fatal) throw this.#drain.fatal;
    const appended = this.#log.append(event);
    const item = {
      kind: 'record' as const,
      durable: false,
      record: appended.record,
      eventJson: appended.eventJson,
    };
    this.#drain.add(item);
    const checkpoint = appended.checkpoint
      ? { kind: 'checkpoint' as const, durable: false, checkpoint: appended.checkpoint }
      : undefined;
    if (checkpoint) this.#drain.add(checkpoint);
    await appended.durable;
    item.durable = true;
    if (checkpoint) checkpoint.durable = true;
    if (this.failurePolicy === 'buffer') {
      this.#drain.kick();
      return;
    }
    await this.#drain.waitFor(appended.record.seq);
  }

  async query(query: AuditQuery): Promise<AuditEvent[]> {
    checkQuery(query);
    const { text, values } = querySql(this.tables.events, query);
    try {
      const result = await this.#pool.query<{ event: AuditEvent }>(text, values);
      return result.rows.map((row) => row.event);
    } catch (cause) {
      throw new AuditStoreError('ERR_AUDIT_STORE_UNAVAILABLE', 'PostgreSQL audit query failed', { cause });
    }
  }

  /** Inserts everything durable in the outbox now; rejects `ERR_AUDIT_STORE_UNAVAILABLE` if PostgreSQL is down. */
  drain(): Promise<void> {
    return this.#drain.drainNow();
  }

  /** Events in the outbox not yet in PostgreSQL. */
  get pending(): number {
    return this.#drain.pending;
  }

  get head(): ChainHead {
    return this.#log.head;
  }

  /** The public key this store signs checkpoints with: pin it somewhere the database's owner cannot rewrite. */
  get checkpointKey(): CheckpointPublicJwk {
    return this.#signer.publicJwk;
  }

  /**
   * Signs a final checkpoint, makes everything durable in the outbox, tries one last drain (events it
   * cannot insert stay in the outbox for the next open) and releases the writer. The pool is not ended.
   */
  async close(): Promise<void> {
    if (this.#log.closed) return;
    const checkpoint = await this.#log.finish();
    if (checkpoint) this.#drain.add({ kind: 'checkpoint', durable: true, checkpoint });
    if (!this.#drain.fatal) await this.#drain.drainNow().catch(() => {});
    await this.#drain.stop();
    await this.#log.release();
  }

  /** Tables, the signing key's publication, and a check that PostgreSQL is not ahead of this outbox. */
  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      await migrate(this.#pool, this.tables);
      // Every key that signed a checkpoint in this outbox (earlier processes included), this one's too.
      const keys = new Map<string, unknown>();
      for (const key of [...(await readKeyFile(this.#keysPath)), this.#signer.publicJwk]) {
        const kid = (key as { kid?: unknown } | null)?.kid;
        if (typeof kid === 'string') keys.set(kid, key);
      }
      await this.#pool.query(
        `INSERT INTO ${this.tables.keys} (kid, jwk)
         SELECT k.kid, k.jwk::jsonb FROM unnest($1::text[], $2::text[]) AS k(kid, jwk)
         ON CONFLICT (kid) DO NOTHING`,
        [[...keys.keys()], [...keys.values()].map((key) => JSON.stringify(key))],
      );
      const { rows } = await this.#pool.query<{ seq: string }>(
        `SELECT max(seq) AS seq FROM ${this.tables.events} WHERE writer = $1`,
        [this.writer],
      );
      const stored = rows[0]?.seq == null ? 0 : Number(rows[0].seq);
      if (stored > this.#log.head.seq) throw writerConflict(this.writer, this.#log.head.seq + 1);
    })().catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** Once every outbox line is in PostgreSQL and the file is large, record the head and empty the file. */
  async #rotateIfDrained(): Promise<void> {
    if (this.#log.size <= this.#rotateBytes || this.#log.released) return;
    const drained = () => this.#drain.idle && this.#log.head.seq === this.#drain.drainedSeq;
    if (!drained()) return;
    await this.#log.rotate(drained, (head) => writeOutboxState(this.#statePath, head));
  }
}
