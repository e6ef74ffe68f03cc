import { mkdir, open, readFile, realpath, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BatonError } from '@baton/core';
import { PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE, withFileLock } from '@baton/core/node';
import type { MigrationConnection } from '@baton/core/stores';
import type { PGlite } from '@electric-sql/pglite';
import type { Owned, SqlPool, SqlQuery } from './connections.ts';

/** Where the broker's embedded store lives unless told otherwise: under the working directory, like `.baton/audit`. */
export const DEFAULT_EMBEDDED_DIRECTORY = '.baton/broker';

/** The file naming the process that has the data directory open. */
const LOCK_FILE = 'broker.pid';

/** Data directories open in this process (two brokers in one process share a pid, so the file cannot tell). */
const openHere = new Set<string>();

/** Raised when another broker has the embedded store's data directory open. */
export class EmbeddedStoreLockedError extends BatonError<'ERR_BROKER_STORE_LOCKED'> {
  override readonly name = 'EmbeddedStoreLockedError';
}

export interface EmbeddedDatabase extends Owned<SqlPool> {
  readonly directory: string;
}

/**
 * The broker's durable embedded store: PostgreSQL compiled to WebAssembly (PGlite), in a data
 * directory, behind the same `SqlPool` seam as a `pg.Pool` — so the PostgreSQL adapter and registry,
 * their schema and their migrations run on it unchanged. Nothing to install, no native addon.
 *
 * PGlite is one process's database: it does not notice a second process opening the same directory,
 * and two would corrupt it. So the directory is locked: `broker.pid` names the process that has it
 * open, and opening refuses (`EmbeddedStoreLockedError`) while that process lives or while this
 * process has it open. A file left by a process that has died (a crash, SIGKILL) is taken over.
 *
 * @example
 * const database = await openEmbeddedDatabase('.baton/broker');
 * const adapter = createPostgresAdapterFactory(database.connection);
 * await adapter.migrate();
 * // …
 * await database.close();
 */
export async function openEmbeddedDatabase(directory: string): Promise<EmbeddedDatabase> {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw new TypeError('directory must be a non-empty path');
  }
  await mkdir(resolve(directory), { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  const path = await realpath(resolve(directory));
  const unlock = await lockDirectory(path);
  let db: PGlite;
  try {
    // Loaded here, so a broker on the memory store or PostgreSQL never loads the WebAssembly module.
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(join(path, 'pgdata'));
  } catch (error) {
    await unlock();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    directory: path,
    connection: pooled(db),
    close() {
      closed ??= db.close().finally(unlock);
      return closed;
    },
  };
}

/**
 * PGlite is one connection. A transaction (the migration runner's `connect()` … `BEGIN` … `COMMIT`)
 * must not interleave with other queries, so every query waits its turn, and a checked-out client
 * holds the turn until `release()`.
 */
function pooled(db: PGlite): SqlPool {
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(run: () => Promise<T>): Promise<T> => {
    const result = tail.then(run, run);
    tail = result.catch(() => {});
    return result;
  };
  const send = async <Row>(query: string | SqlQuery, values?: unknown[]) => {
    const text = typeof query === 'string' ? query : query.text;
    const parameters = typeof query === 'string' ? values : query.values;
    // Like pg: text without parameters goes by the simple protocol, which runs several statements
    // (a migration); with parameters, by the extended protocol, one statement.
    const { rows, affectedRows } = parameters
      ? await db.query<Row>(text, parameters)
      : ((await db.exec(text)).at(-1) ?? { rows: [] as Row[], affectedRows: 0 });
    return { rows: rows as Row[], rowCount: affectedRows ?? null };
  };
  return {
    query: (query, values) => exclusive(() => send(query, values)),
    connect: () =>
      new Promise<MigrationConnection>((checkedOut) => {
        void exclusive(
          () =>
            new Promise<void>((release) => {
              checkedOut({ query: (text, values) => send(text, values), release: () => release() });
            }),
        );
      }),
  };
}

/** Takes `<directory>/broker.pid`, or refuses; returns what releases it. */
async function lockDirectory(directory: string): Promise<() => Promise<void>> {
  const refuse = (holder: string) =>
    new EmbeddedStoreLockedError(
      'ERR_BROKER_STORE_LOCKED',
      `the broker's embedded store ${directory} is already open ${holder}; one broker per data directory ` +
        '(give this one another directory, or use PostgreSQL + Redis to run several instances)',
    );
  if (openHere.has(directory)) throw refuse('in this process');
  const lockPath = join(directory, LOCK_FILE);
  // The check-and-take runs under a short file lock, so two brokers starting together cannot both
  // decide the pid file is stale and both take it.
  const options = { label: "the broker's embedded store pid file" };
  await withFileLock(
    lockPath,
    5000,
    async () => {
      const holder = await readFile(lockPath, 'utf8').then(
        (text) => Number.parseInt(text, 10),
        () => undefined,
      );
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw refuse(`by process ${holder}`);
      }
      if (holder !== undefined) await unlink(lockPath);
      const file = await open(lockPath, 'wx', PRIVATE_FILE_MODE);
      try {
        await file.writeFile(`${process.pid}\n`);
      } finally {
        await file.close();
      }
    },
    options,
  );
  openHere.add(directory);
  return async () => {
    openHere.delete(directory);
    await unlink(lockPath).catch(() => {});
  };
}

/** Whether a process with this pid exists (EPERM: it does, under another account). */
function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
