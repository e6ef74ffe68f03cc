import { join } from 'node:path';
import { GENESIS_HASH, HASH_PATTERN } from '../chain-hash.ts';
import type { ChainHead } from '../chain-log.ts';
import { readIfExists, writeFileAtomic } from '../durable-fs.ts';

/** Where a writer's outbox files live in the outbox directory. */
export function outboxPaths(directory: string, writer: string) {
  return {
    log: join(directory, `${writer}.outbox.jsonl`),
    /** `{"seq":…,"hash":…}`: everything up to `seq` is in PostgreSQL and the outbox file starts after it. */
    state: join(directory, `${writer}.outbox-state.json`),
    keys: join(directory, `${writer}.checkpoint-keys.json`),
    lock: join(directory, `${writer}.outbox.lock`),
  };
}

/** The drained head recorded at the last rotation; genesis for a new outbox. */
export async function readOutboxState(path: string): Promise<ChainHead> {
  const bytes = await readIfExists(path);
  if (bytes === undefined) return { seq: 0, hash: GENESIS_HASH };
  const { seq, hash } = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  if (
    !Number.isSafeInteger(seq) ||
    (seq as number) < 0 ||
    typeof hash !== 'string' ||
    !HASH_PATTERN.test(hash)
  ) {
    throw new Error(`${path} is not a valid outbox state`);
  }
  return { seq: seq as number, hash };
}

export async function writeOutboxState(path: string, head: ChainHead): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`);
}
