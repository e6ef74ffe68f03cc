import { AuditStoreError } from '../errors.ts';
import type { CheckpointLine } from '../line-format.ts';
import type { RecordRow } from './insert-batch.ts';

/** An outbox line waiting for PostgreSQL; `durable` once the outbox fdatasync covering it returned. */
export type OutboxItem =
  | ({ kind: 'record'; durable: boolean } & RecordRow)
  | { kind: 'checkpoint'; durable: boolean; checkpoint: CheckpointLine };

export interface OutboxDrainDeps {
  /** Migrations and one-time checks; memoized by the caller, retried after a failure. */
  prepare(): Promise<void>;
  insert(rows: RecordRow[], checkpoints: CheckpointLine[]): Promise<void>;
  /** After the outbox has been emptied into PostgreSQL (rotation). */
  drained(): Promise<void>;
}

const MAX_BATCH = 1000;

/** Backoff between background retries after a failed drain (doubling from `min`, capped at `max`). */
export interface RetryDelay {
  min: number;
  max: number;
}

export const DEFAULT_RETRY_DELAY: RetryDelay = { min: 100, max: 5000 };

/**
 * Moves durable outbox lines into PostgreSQL, in chain order, many per statement: while one insert is
 * in flight, records made durable meanwhile queue up and go in the next one (group commit again). Only
 * lines already durable in the outbox are inserted, so PostgreSQL never holds a record the outbox
 * could lose. On failure every current waiter rejects with `ERR_AUDIT_STORE_UNAVAILABLE` (their events
 * stay queued) and a background retry is scheduled with backoff; a waiter arriving during the backoff
 * (a fail-closed write) does not wait for it but makes its own attempt at once. A writer conflict, or an
 * insert PostgreSQL refuses for good (`ERR_AUDIT_STORE_REJECTED`, see `permanentSqlState`), stops draining
 * for good: retrying the same batch forever would only hide it.
 */
export class OutboxDrain {
  readonly #deps: OutboxDrainDeps;
  readonly #retry: RetryDelay;
  #items: OutboxItem[] = [];
  #drainedSeq: number;
  #waiters: Array<{ seq: number; resolve: () => void; reject: (error: Error) => void }> = [];
  #scheduled = false;
  #running: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = 0;
  #lastError: AuditStoreError | undefined;
  #fatal: AuditStoreError | undefined;
  #stopped = false;

  constructor(deps: OutboxDrainDeps, drainedSeq: number, retry: RetryDelay = DEFAULT_RETRY_DELAY) {
    this.#deps = deps;
    this.#retry = retry;
    this.#drainedSeq = drainedSeq;
  }

  /** Highest seq known to be in PostgreSQL. */
  get drainedSeq(): number {
    return this.#drainedSeq;
  }

  /** Events in the outbox not yet in PostgreSQL. */
  get pending(): number {
    return this.#items.filter((item) => item.kind === 'record').length;
  }

  /** The oldest event in the outbox not yet in PostgreSQL. */
  get oldestPending(): RecordRow | undefined {
    const item = this.#items.find((candidate) => candidate.kind === 'record');
    return item?.kind === 'record' ? item : undefined;
  }

  get idle(): boolean {
    return this.#items.length === 0;
  }

  /** A writer conflict or a permanently refused insert: permanent until an operator intervenes. */
  get fatal(): AuditStoreError | undefined {
    return this.#fatal;
  }

  add(item: OutboxItem): void {
    this.#items.push(item);
  }

  /**
   * Resolves once `seq` is in PostgreSQL; rejects if the attempt that should have put it there failed.
   * Starts that attempt now (or joins the one in flight), even while a background retry is pending.
   */
  waitFor(seq: number): Promise<void> {
    if (seq <= this.#drainedSeq) return Promise.resolve();
    if (this.#fatal) return Promise.reject(this.#fatal);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq, resolve, reject });
      this.kick(true);
    });
  }

  /**
   * Starts draining soon (next microtask, so writes of the same turn share one insert). During the
   * backoff after a failure only `force` (a waiter) starts an attempt; otherwise the retry timer does.
   */
  kick(force = false): void {
    if (this.#scheduled || this.#running || this.#stopped || this.#fatal) return;
    if (this.#retryTimer && !force) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#running) this.#running = this.#loop().finally(() => this.#afterLoop());
    });
  }

  /** Drains what is durable now; rejects with the failure if PostgreSQL did not take all of it. */
  async drainNow(): Promise<void> {
    if (this.#fatal) throw this.#fatal;
    while (this.#running) await this.#running;
    this.#running = this.#loop().finally(() => this.#afterLoop());
    await this.#running;
    if (this.#fatal) throw this.#fatal;
    if (this.#lastError) throw this.#lastError;
  }

  /** No more attempts or retries (close). Items stay in the outbox for the next open. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    if (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    // Every attempt starts afresh: an earlier failure says nothing about whether this one will work.
    this.#lastError = undefined;
    await this.#deps.prepare().catch((error) => this.#failed(error, false));
    if (this.#lastError || this.#fatal) return;
    for (;;) {
      let count = 0;
      while (count < this.#items.length && count < MAX_BATCH && this.#items[count]!.durable) count++;
      if (count === 0) break;
      const batch = this.#items.slice(0, count);
      try {
        await this.#deps.insert(
          batch.flatMap((item) => (item.kind === 'record' ? [item] : [])),
          batch.flatMap((item) => (item.kind === 'checkpoint' ? [item.checkpoint] : [])),
        );
      } catch (error) {
        this.#failed(error, true);
        return;
      }
      this.#items.splice(0, count);
      for (const item of batch) if (item.kind === 'record') this.#drainedSeq = item.record.seq;
      this.#retryDelay = 0;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#waiters = this.#waiters.filter((waiter) => {
        if (waiter.seq > this.#drainedSeq) return true;
        waiter.resolve();
        return false;
      });
    }
    if (this.#items.length === 0) await this.#deps.drained().catch(() => {});
  }

  #afterLoop(): void {
    this.#running = undefined;
    if (this.#stopped || this.#fatal) return;
    // Lines made durable while the last step ran get their attempt now; after a failure, a retry later
    // (a fail-closed write arriving meanwhile does not wait for it: `waitFor` forces its own attempt).
    if (this.#lastError) {
      if (this.#items.length > 0) this.#scheduleRetry();
      // Waiters still here arrived after the failure rejected the others: they get their own attempt.
      if (this.#waiters.length > 0) this.kick(true);
    } else if (this.#items.length > 0 && this.#items[0]!.durable) {
      // A waiter that arrived while this attempt ran must not be left to a pending background retry.
      this.kick(this.#waiters.length > 0);
    }
  }

  #failed(error: unknown, inserting: boolean): void {
    const sqlState = inserting ? permanentSqlState(error) : undefined;
    const failure =
      error instanceof AuditStoreError && error.code === 'ERR_AUDIT_STORE_WRITER_CONFLICT'
        ? error
        : sqlState !== undefined
          ? new AuditStoreError(
              'ERR_AUDIT_STORE_REJECTED',
              `PostgreSQL refused the audit events with SQLSTATE ${sqlState}, which no retry fixes; they stay in the outbox and draining has stopped`,
              { cause: error },
            )
          : new AuditStoreError(
              'ERR_AUDIT_STORE_UNAVAILABLE',
              'PostgreSQL did not take the audit events; they are in the outbox and will be drained when it is back',
              { cause: error },
            );
    if (failure.code !== 'ERR_AUDIT_STORE_UNAVAILABLE') {
      this.#fatal = failure;
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.#lastError = failure;
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(failure);
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#retryDelay = Math.min(Math.max(this.#retryDelay * 2, this.#retry.min), this.#retry.max);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.kick();
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}

/**
 * The SQLSTATE of an insert error that will recur on every retry of the same rows: class 22 (data
 * exception), 23 (integrity constraint violation) and 54 (program limit exceeded, e.g. an index row
 * over the btree maximum). The insert relies on no unique violation (re-inserting a record is `ON
 * CONFLICT (writer, seq) DO NOTHING`, which never raises 23505), so all of class 23 counts. Anything
 * else (connection loss, timeouts, serialization failures, shutdown, ...) is worth retrying.
 */
export function permanentSqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code) ? code : undefined;
}
