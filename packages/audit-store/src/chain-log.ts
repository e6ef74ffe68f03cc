import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { canonicalJson } from './canonical-json.ts';
import { chainHash } from './chain-hash.ts';
import { type CheckpointSigner, keysByKid } from './checkpoint-signer.ts';
import { fsyncDirectory } from './durable-fs.ts';
import { AuditStoreError } from './errors.ts';
import { GroupCommitFile } from './group-commit-file.ts';
import { publishKey, readKeyFile } from './key-file.ts';
import {
  type ChainRecord,
  type CheckpointLine,
  encodeCheckpointLine,
  encodeRecordLine,
  parseLog,
} from './line-format.ts';
import {
  APPEND_FLAGS,
  ensurePrivateDirectory,
  openPrivateFile,
  tightenPrivateFile,
} from './private-files.ts';
import { verifyChain } from './verify-chain.ts';
import { WriterLock } from './writer-lock.ts';

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface ChainLogOptions {
  logPath: string;
  keysPath: string;
  lockPath: string;
  writer: string;
  checkpointEvery: number;
  /** Signs this log's checkpoints; its public key is added to the keys file before it signs anything. */
  signer: CheckpointSigner;
  /** Where the file's chain starts: genesis for a whole log, the drained head for a rotated outbox. */
  base: ChainHead;
  /** Name used in messages (`FileAuditStore`, `PostgresAuditStore outbox`). */
  owner: string;
}

/** A record or checkpoint as it sits in the file, in file order. */
export type LogEntry =
  | { kind: 'record'; record: ChainRecord }
  | { kind: 'checkpoint'; checkpoint: CheckpointLine };

/** What `append` queued: the record, a checkpoint if one fell due, and when both are on disk. */
export interface Appended {
  record: ChainRecord;
  /** The event's canonical JSON, exactly the text `hash` covers. */
  eventJson: string;
  checkpoint: CheckpointLine | undefined;
  durable: Promise<void>;
}

/**
 * One writer's hash chain in an append-only JSON-lines file: the part shared by the file store and the
 * PostgreSQL store's outbox. It owns the chain head (seq and hash are assigned synchronously, in call
 * order, so the file order is the chain order), the group-commit file, signed checkpoints every
 * `checkpointEvery` records and on close, and recovery on open.
 */
export class ChainLog {
  readonly #options: ChainLogOptions;
  readonly #file: GroupCommitFile;
  readonly #lock: WriterLock;
  readonly #signer: CheckpointSigner;
  #head: ChainHead;
  #lastCheckpointSeq: number;
  #closed = false;
  #released = false;

  private constructor(
    options: ChainLogOptions,
    file: GroupCommitFile,
    lock: WriterLock,
    signer: CheckpointSigner,
    head: ChainHead,
    lastCheckpointSeq: number,
  ) {
    this.#options = options;
    this.#file = file;
    this.#lock = lock;
    this.#signer = signer;
    this.#head = head;
    this.#lastCheckpointSeq = lastCheckpointSeq;
  }

  /**
   * Recovers and opens the log: takes the writer lock, verifies the chain (links, hashes, checkpoint
   * signatures), cuts a torn last line (a write a crash interrupted; it was never acknowledged), and
   * continues the chain from the last record. A log that does not verify is refused, not extended.
   */
  static async open(options: ChainLogOptions): Promise<{ log: ChainLog; entries: LogEntry[] }> {
    await ensurePrivateDirectory(dirname(options.logPath));
    const lock = await WriterLock.acquire(options.lockPath);
    try {
      await tightenPrivateFile(options.keysPath);
      // Opened before it is read, without following a link: what is verified is what is appended to.
      const handle = await openPrivateFile(options.logPath, APPEND_FLAGS);
      try {
        return await ChainLog.#recover(options, lock, handle);
      } catch (error) {
        await handle.close();
        throw error;
      }
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  static async #recover(
    options: ChainLogOptions,
    lock: WriterLock,
    handle: FileHandle,
  ): Promise<{ log: ChainLog; entries: LogEntry[] }> {
    const { signer } = options;
    const bytes = await handle.readFile();
    const parsed = parseLog(bytes);
    let entries: LogEntry[] = [];
    let keepBytes = parsed.completeBytes;
    const records = parsed.lines.flatMap((line) => (line.kind === 'record' ? [line.record] : []));
    if (
      options.base.seq > 0 &&
      records.length > 0 &&
      records.every((record) => record.seq <= options.base.seq)
    ) {
      // A crash between recording the drained head and truncating the outbox: all of it is drained.
      keepBytes = 0;
    } else {
      const report = verifyChain({
        records: parsed.lines.flatMap((line) =>
          line.kind === 'record' ? [{ line: line.line, value: line.record }] : [],
        ),
        checkpoints: parsed.lines.flatMap((line) =>
          line.kind === 'checkpoint' ? [{ line: line.line, value: line.checkpoint }] : [],
        ),
        problems: parsed.lines.flatMap((line) =>
          line.kind === 'malformed' ? [{ kind: line.problem, line: line.line, detail: line.detail }] : [],
        ),
        base: options.base,
        writer: options.writer,
        keys: keysByKid([...(await readKeyFile(options.keysPath)), signer.publicJwk]),
      });
      if (!report.ok) {
        throw new AuditStoreError(
          'ERR_AUDIT_LOG_TAMPERED',
          `${options.logPath} does not verify (${report.problems.length} problem(s), first: ${report.problems[0]!.detail}); it was not opened`,
          { report },
        );
      }
      entries = parsed.lines.flatMap((line): LogEntry[] =>
        line.kind === 'record'
          ? [{ kind: 'record', record: line.record }]
          : line.kind === 'checkpoint'
            ? [{ kind: 'checkpoint', checkpoint: line.checkpoint }]
            : [],
      );
    }
    if (keepBytes < bytes.length) {
      await handle.truncate(keepBytes);
      await handle.datasync();
    }
    // The log may have just been created: its name is durable once the directory is synced.
    await fsyncDirectory(dirname(options.logPath));
    await publishKey(options.keysPath, signer.publicJwk);

    let head = options.base;
    let lastCheckpointSeq = options.base.seq;
    for (const entry of entries) {
      if (entry.kind === 'record') head = { seq: entry.record.seq, hash: entry.record.hash };
      else lastCheckpointSeq = Math.max(lastCheckpointSeq, entry.checkpoint.checkpoint.seq);
    }
    const file = new GroupCommitFile(handle, options.logPath, keepBytes);
    return { log: new ChainLog(options, file, lock, signer, head, lastCheckpointSeq), entries };
  }

  /** The last record appended (durable or not yet): seq 0 and the genesis hash for an empty chain. */
  get head(): ChainHead {
    return this.#head;
  }

  get signer(): CheckpointSigner {
    return this.#signer;
  }

  get size(): number {
    return this.#file.size;
  }

  get failed(): AuditStoreError | undefined {
    return this.#file.failed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Chains `event` and queues its line (and a checkpoint, if one is due). Throws if the log is unusable. */
  append(event: object): Appended {
    if (this.#closed) throw new AuditStoreError('ERR_AUDIT_STORE_CLOSED', `${this.#options.owner} is closed`);
    if (this.#file.failed) throw this.#file.failed;
    const eventJson = canonicalJson(event);
    const seq = this.#head.seq + 1;
    const prev = this.#head.hash;
    const hash = chainHash(prev, eventJson, seq);
    this.#head = { seq, hash };
    let text = encodeRecordLine(seq, prev, hash, eventJson);
    let checkpoint: CheckpointLine | undefined;
    if (seq - this.#lastCheckpointSeq >= this.#options.checkpointEvery) {
      checkpoint = this.#checkpoint();
      text += encodeCheckpointLine(checkpoint);
    }
    const record: ChainRecord = { seq, prev, hash, event: event as Record<string, unknown> };
    return { record, eventJson, checkpoint, durable: this.#file.append(Buffer.from(text)) };
  }

  /**
   * Empties the file if `shouldRotate()` still holds once every earlier line is durable, after `persist`
   * recorded the head the next line will chain from. For the outbox, once all of it is in PostgreSQL.
   */
  async rotate(shouldRotate: () => boolean, persist: (head: ChainHead) => Promise<void>): Promise<void> {
    await this.#file.exclusive(async (handle) => {
      if (!shouldRotate()) return;
      await persist(this.#head);
      await handle.truncate(0);
      await handle.datasync();
    });
  }

  /**
   * Stops appends, writes a final checkpoint if records came after the last one, and waits until
   * everything is durable. Returns that checkpoint (the outbox forwards it to PostgreSQL). The file
   * stays open for `rotate` until `release`.
   */
  async finish(): Promise<CheckpointLine | undefined> {
    if (this.#closed) return undefined;
    this.#closed = true;
    let checkpoint: CheckpointLine | undefined;
    if (!this.#file.failed && this.#head.seq > this.#lastCheckpointSeq) {
      checkpoint = this.#checkpoint();
      await this.#file.append(Buffer.from(encodeCheckpointLine(checkpoint))).catch(() => {});
    }
    return this.#file.failed ? undefined : checkpoint;
  }

  /** Closes the file and releases the writer lock. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#file.close();
    await this.#lock.release();
  }

  get released(): boolean {
    return this.#released;
  }

  async close(): Promise<void> {
    await this.finish();
    await this.release();
  }

  #checkpoint(): CheckpointLine {
    this.#lastCheckpointSeq = this.#head.seq;
    return this.#signer.sign({
      seq: this.#head.seq,
      hash: this.#head.hash,
      time: new Date().toISOString(),
      writer: this.#options.writer,
    });
  }
}
