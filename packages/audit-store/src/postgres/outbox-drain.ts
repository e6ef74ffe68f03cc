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
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * Moves durable outbox lines into PostgreSQL, in chain order, many per statement: while one insert is
 * in flight, records made durable meanwhile queue up and go in the next one (group commit again). Only
 * lines already durable in the outbox are inserted, so PostgreSQL never holds a record the outbox
 * could lose. On failure every current waiter rejects with `ERR_AUDIT_STORE_UNAVAILABLE` (their events
 * stay queued) and a retry is scheduled with backoff; a writer conflict stops draining for good.
 */
export class OutboxDrain {
  readonly #deps: OutboxDrainDeps;
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

  constructor(deps: OutboxDrainDeps, drainedSeq: number) {
    this.#deps = deps;
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

  get idle(): boolean {
    return this.#items.length === 0;
  }

  /** A writer conflict: permanent until an operator intervenes. */
  get fatal(): AuditStoreError | undefined {
    return this.#fatal;
  }

  add(item: OutboxItem): void {
    this.#items.push(item);
  }

  /** Resolves once `seq` is in PostgreSQL; rejects if the attempt that should have put it there failed. */
  waitFor(seq: number): Promise<void> {
    if (seq <= this.#drainedSeq) return Promise.resolve();
    if (this.#fatal) return Promise.reject(this.#fatal);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ seq, resolve, reject });
      this.kick();
    });
  }

  /** Starts draining soon (next microtask, so writes of the same turn share one insert). */
  kick(): void {
    if (this.#scheduled || this.#running || this.#stopped || this.#fatal) return;
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
    this.#lastError = undefined;
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
    await this.#deps.prepare().catch((error) => this.#failed(error));
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
        this.#failed(error);
        return;
      }
      this.#items.splice(0, count);
      for (const item of batch) if (item.kind === 'record') this.#drainedSeq = item.record.seq;
      this.#lastError = undefined;
      this.#retryDelay = 0;
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
    // (a write arriving meanwhile starts its own attempt through `waitFor`).
    if (this.#lastError) {
      if (this.#items.length > 0) this.#scheduleRetry();
    } else if (this.#items.length > 0 && this.#items[0]!.durable) {
      this.kick();
    }
  }

  #failed(error: unknown): void {
    const failure =
      error instanceof AuditStoreError && error.code === 'ERR_AUDIT_STORE_WRITER_CONFLICT'
        ? error
        : new AuditStoreError(
            'ERR_AUDIT_STORE_UNAVAILABLE',
            'PostgreSQL did not take the audit events; they are in the outbox and will be drained when it is back',
            { cause: error },
          );
    if (failure.code === 'ERR_AUDIT_STORE_WRITER_CONFLICT') this.#fatal = failure;
    this.#lastError = failure;
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter.reject(failure);
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#stopped) return;
    this.#retryDelay = Math.min(Math.max(this.#retryDelay * 2, RETRY_MIN_MS), RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#lastError = undefined;
      this.kick();
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }
}
