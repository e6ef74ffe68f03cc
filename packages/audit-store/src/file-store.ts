import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AuditEvent,
  type AuditQuery,
  type AuditReader,
  type AuditSink,
  selectEvents,
} from '@baton/audit';
import { GENESIS_HASH } from './chain-hash.ts';
import { type ChainHead, ChainLog } from './chain-log.ts';
import { type CheckpointPublicJwk, CheckpointSigner } from './checkpoint-signer.ts';
import { validateEvent } from './event-validation.ts';
import { parseLog } from './line-format.ts';
import { checkCheckpointEvery, checkDirectory, checkSigningKey, checkWriter } from './options.ts';
import { checkQuery } from './select-events.ts';

export interface FileAuditStoreOptions {
  /** Created if missing. Holds `<writer>.audit.jsonl`, `<writer>.checkpoint-keys.json` and a lock file. */
  directory: string;
  /** This process's chain; one process per writer at a time. Default `default`. */
  writer?: string;
  /** Sign a checkpoint after this many events (and on close). Default 1000. */
  checkpointEvery?: number;
  /** EC P-256 private key for checkpoints. Default: a fresh key per open, never written to disk. */
  signingKey?: KeyObject;
  /**
   * Only `fail-closed`: the file is already the local durable buffer, so there is nowhere else to put
   * an event it cannot take; `write` rejects.
   */
  failurePolicy?: 'fail-closed';
}

/** Where a writer's files live in `directory`. */
export function fileStorePaths(directory: string, writer: string) {
  return {
    log: join(directory, `${writer}.audit.jsonl`),
    keys: join(directory, `${writer}.checkpoint-keys.json`),
    lock: join(directory, `${writer}.audit.lock`),
  };
}

/**
 * The embedded audit store: no server, one append-only hash-chained JSON-lines file per writer.
 * `write` resolves only once the event's line is on disk (fdatasync, shared by concurrent writes);
 * `query` scans the file. See `verifyAuditLog` to check a log for tampering.
 *
 * @example
 * const store = await FileAuditStore.open({ directory: '.baton/audit' });
 * await store.write(auditEvent({ ... }));
 * await store.close();
 */
export class FileAuditStore implements AuditSink, AuditReader {
  readonly writer: string;
  /** The log file. */
  readonly path: string;
  /** The public keys that verify this log's checkpoints. */
  readonly keysPath: string;
  readonly #log: ChainLog;

  private constructor(writer: string, paths: ReturnType<typeof fileStorePaths>, log: ChainLog) {
    this.writer = writer;
    this.path = paths.log;
    this.keysPath = paths.keys;
    this.#log = log;
  }

  /** Opens (creating or recovering) the writer's log. Rejects `ERR_AUDIT_LOG_TAMPERED` if it does not verify. */
  static async open(options: FileAuditStoreOptions): Promise<FileAuditStore> {
    const owner = 'FileAuditStore';
    if (options === null || typeof options !== 'object') throw new TypeError(`${owner}.open needs options`);
    const directory = checkDirectory(owner, 'directory', options.directory);
    const writer = checkWriter(owner, options.writer ?? 'default');
    const checkpointEvery = checkCheckpointEvery(owner, options.checkpointEvery);
    const signingKey = checkSigningKey(owner, options.signingKey);
    if (options.failurePolicy !== undefined && options.failurePolicy !== 'fail-closed') {
      throw new TypeError(
        `${owner}: failurePolicy must be 'fail-closed' (the file is the durable buffer; use PostgresAuditStore for 'buffer')`,
      );
    }
    const paths = fileStorePaths(directory, writer);
    const { log } = await ChainLog.open({
      logPath: paths.log,
      keysPath: paths.keys,
      lockPath: paths.lock,
      writer,
      checkpointEvery,
      signer: CheckpointSigner.from(signingKey, owner),
      base: { seq: 0, hash: GENESIS_HASH },
      owner,
    });
    return new FileAuditStore(writer, paths, log);
  }

  /** Resolves once the event is durably on disk; rejects (never drops) if it cannot be. */
  async write(event: AuditEvent): Promise<void> {
    validateEvent(event);
    await this.#log.append(event).durable;
  }

  async query(query: AuditQuery): Promise<AuditEvent[]> {
    checkQuery(query);
    const { lines } = parseLog(await readFile(this.path));
    const events = lines.flatMap((line) =>
      line.kind === 'record' ? [line.record.event as unknown as AuditEvent] : [],
    );
    return selectEvents(events, query);
  }

  /** The chain's latest seq and hash, e.g. to publish somewhere the log's owner cannot rewrite. */
  get head(): ChainHead {
    return this.#log.head;
  }

  /** The public key this store signs checkpoints with: pin it somewhere the log's owner cannot rewrite. */
  get checkpointKey(): CheckpointPublicJwk {
    return this.#log.signer.publicJwk;
  }

  /** Signs a final checkpoint, waits for every pending write, and releases the writer. */
  async close(): Promise<void> {
    await this.#log.close();
  }
}
