import type { FileHandle } from 'node:fs/promises';
import { AuditStoreError } from './errors.ts';

type Operation =
  | { kind: 'append'; bytes: Buffer; resolve: () => void; reject: (error: Error) => void }
  | {
      kind: 'task';
      run: (handle: FileHandle) => Promise<void>;
      resolve: () => void;
      reject: (error: Error) => void;
    };

/**
 * An append-only file with group commit. Every `append` resolves only after an fdatasync that covers
 * its bytes; appends that arrive while one write+fdatasync is in flight are written together and
 * covered by the next single fdatasync. Throughput therefore grows with concurrency while each caller
 * still waits for its own bytes to be durable. Bytes reach the file in `append` call order.
 *
 * After any write or sync failure the file is in an unknown state (a partial line may be on disk), so
 * every pending and later append rejects; reopening the store recovers by truncating the torn tail.
 */
export class GroupCommitFile {
  readonly #handle: FileHandle;
  readonly #path: string;
  #queue: Operation[] = [];
  #scheduled = false;
  #running = false;
  #failure: AuditStoreError | undefined;
  #size: number;

  constructor(handle: FileHandle, path: string, size: number) {
    this.#handle = handle;
    this.#path = path;
    this.#size = size;
  }

  /** Bytes in the file, counting only what has been written. */
  get size(): number {
    return this.#size;
  }

  get failed(): AuditStoreError | undefined {
    return this.#failure;
  }

  append(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#queue.push({ kind: 'append', bytes, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Runs `run` with the file to itself: after every earlier append is durable, before any later one is
   * written. For truncating a drained outbox.
   */
  exclusive(run: (handle: FileHandle) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#queue.push({ kind: 'task', run, resolve, reject });
      this.#schedule();
    });
  }

  /** Waits for every queued operation, then closes the file. */
  async close(): Promise<void> {
    await this.exclusive(async () => {}).catch(() => {});
    await this.#handle.close();
  }

  /**
   * Starts the flush loop on the next microtask, not synchronously: appends made in the same turn of
   * the event loop (concurrent writers) then share the first write and fdatasync.
   */
  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        if (head.kind === 'task') {
          this.#queue.shift();
          try {
            await head.run(this.#handle);
            this.#size = (await this.#handle.stat()).size;
            head.resolve();
          } catch (error) {
            this.#fail(error, [head]);
          }
          continue;
        }
        let count = 0;
        while (count < this.#queue.length && this.#queue[count]!.kind === 'append') count++;
        const batch = this.#queue.splice(0, count) as Array<Extract<Operation, { kind: 'append' }>>;
        try {
          const bytes = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((op) => op.bytes));
          let offset = 0;
          while (offset < bytes.length) {
            const { bytesWritten } = await this.#handle.write(bytes, offset, bytes.length - offset);
            offset += bytesWritten;
          }
          await this.#handle.datasync();
          this.#size += bytes.length;
          for (const op of batch) op.resolve();
        } catch (error) {
          this.#fail(error, batch);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #fail(cause: unknown, current: Array<{ reject: (error: Error) => void }>): void {
    this.#failure ??= new AuditStoreError(
      'ERR_AUDIT_STORE_WRITE_FAILED',
      `audit log ${this.#path} could not be written; reopen the store to recover`,
      { cause },
    );
    const pending = this.#queue.splice(0);
    for (const op of [...current, ...pending]) op.reject(this.#failure);
  }
}
