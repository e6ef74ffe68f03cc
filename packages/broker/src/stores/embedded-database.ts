import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, realpath, stat, unlink } from 'node:fs/promises';
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

/** Raised when the data directory is a symbolic link or another user's: it is not used. */
export class EmbeddedStoreDirectoryError extends BatonError<'ERR_BROKER_STORE_INSECURE'> {
  override readonly name = 'EmbeddedStoreDirectoryError';
}

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
 * and two would corrupt it. So the directory is locked: `broker.pid` records the process that has it
 * open (pid, boot id, pid namespace, start time, a random nonce), and opening refuses
 * (`EmbeddedStoreLockedError`) while that process lives or while this process has it open. A record
 * is taken over only when it is from this boot and this pid namespace and its process is gone (dead,
 * or the pid reused: another start time) — a crash, SIGKILL. A record from another container's pid
 * namespace (two containers are both pid 1) or another boot cannot be checked here and is refused;
 * so is everything when /proc is unavailable. Closing deletes the file only while it holds our nonce.
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
  await privateDirectory(resolve(directory));
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
 * The data directory holds registration access tokens in files PGlite creates 0640, so it must be
 * this process's own and closed to group and others. A symbolic link or a directory another user owns
 * (an attacker's pre-created `.baton/broker`) is refused — its owner could read or swap what we write.
 * Group or other bits on our own directory (made under a lax umask, or by hand) are removed (chmod
 * 0700) rather than refused: that is the owner's mistake, fixed at no risk, and the files below it are
 * then unreachable to others whatever their own modes.
 */
async function privateDirectory(directory: string): Promise<void> {
  const refuse = (why: string) =>
    new EmbeddedStoreDirectoryError(
      'ERR_BROKER_STORE_INSECURE',
      `the broker's embedded store ${directory} ${why}; give it a directory of its own`,
    );
  const info = await lstat(directory);
  if (info.isSymbolicLink()) throw refuse('is a symbolic link');
  if (!info.isDirectory()) throw refuse('is not a directory');
  if (process.platform === 'win32') return;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw refuse(`is owned by uid ${info.uid}, not this process's (uid ${uid})`);
  }
  if ((info.mode & 0o077) !== 0) await chmod(directory, PRIVATE_DIRECTORY_MODE);
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

/** What `broker.pid` records: enough to tell, from another process, whether its writer still runs. */
interface LockRecord {
  readonly pid: number;
  /** `/proc/sys/kernel/random/boot_id`: a pid from another boot names nothing now. */
  readonly bootId: string;
  /** The inode of `/proc/self/ns/pid`: a pid from another container's namespace cannot be checked here. */
  readonly pidNamespace: number;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks since boot): a reused pid starts at another time. */
  readonly startTime: string;
  /** Random, per opening: the close deletes the file only if it is still this opening's. */
  readonly nonce: string;
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
  // Without /proc a pid file cannot be told stale from live (another container's pid 1 looks like
  // ours), so the store refuses to run rather than guess.
  const self = await ourRecord().catch((error: unknown) => {
    throw new EmbeddedStoreLockedError(
      'ERR_BROKER_STORE_LOCKED',
      `the broker's embedded store ${directory} needs /proc (boot id, pid namespace, process start time) ` +
        'to lock its data directory; use PostgreSQL + Redis where /proc is unavailable',
      { cause: error },
    );
  });
  const lockPath = join(directory, LOCK_FILE);
  // The check-and-take runs under a short file lock, so two brokers starting together cannot both
  // decide the pid file is stale and both take it.
  const options = { label: "the broker's embedded store pid file" };
  await withFileLock(
    lockPath,
    5000,
    async () => {
      const text = await readFile(lockPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (text !== undefined) {
        const why = await heldBecause(parseRecord(text), self);
        if (why !== undefined) throw refuse(why);
        await unlink(lockPath);
      }
      const file = await open(lockPath, 'wx', PRIVATE_FILE_MODE);
      try {
        await file.writeFile(`${JSON.stringify(self)}\n`);
      } finally {
        await file.close();
      }
    },
    options,
  );
  openHere.add(directory);
  return async () => {
    openHere.delete(directory);
    // Only our own record: if another broker took over (it judged us gone), the file is its lock now.
    // Not under the short file lock: a second signal exiting mid-close would leave that lock behind,
    // and nobody replaces a live broker's record between this read and the unlink.
    const text = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (text !== undefined && parseRecord(text)?.nonce === self.nonce) await unlink(lockPath).catch(() => {});
  };
}

/**
 * Why a recorded holder still holds the directory, or `undefined` when its lock is stale. Taken over
 * only when the record is from this boot and this pid namespace AND its process is gone (not alive, or
 * alive with another start time: the pid was reused). Anything unverifiable is refused.
 */
async function heldBecause(record: LockRecord | undefined, self: LockRecord): Promise<string | undefined> {
  if (record === undefined) {
    return 'by a process its broker.pid does not describe (unreadable record; remove it if no broker runs)';
  }
  if (record.bootId !== self.bootId) {
    return `by process ${record.pid} of another boot, whose liveness cannot be checked (remove broker.pid if no broker runs)`;
  }
  if (record.pidNamespace !== self.pidNamespace) {
    return `by process ${record.pid} in another pid namespace (another container?), whose liveness cannot be checked here`;
  }
  if (record.pid === self.pid && record.nonce !== self.nonce) {
    // This process's pid, this namespace, not this opening: another process's opening whose pid we
    // reuse only if it started at another time.
    if ((await startTimeOf(record.pid)) !== record.startTime) return undefined;
    return `by process ${record.pid} (this process, another opening)`;
  }
  if (!isAlive(record.pid)) return undefined;
  const started = await startTimeOf(record.pid).catch(() => undefined);
  if (started !== undefined && started !== record.startTime) return undefined;
  return `by process ${record.pid}`;
}

function parseRecord(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>;
    if (
      Number.isSafeInteger(value.pid) &&
      typeof value.bootId === 'string' &&
      Number.isSafeInteger(value.pidNamespace) &&
      typeof value.startTime === 'string' &&
      typeof value.nonce === 'string'
    ) {
      return value as LockRecord;
    }
  } catch {
    // Not a record (an older broker's bare pid, or garbage): refused by the caller.
  }
  return undefined;
}

/** This process's lock record; rejects when /proc cannot tell us who we are. */
async function ourRecord(): Promise<LockRecord> {
  const [bootId, namespace, startTime] = await Promise.all([
    readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
    stat('/proc/self/ns/pid'),
    startTimeOf(process.pid),
  ]);
  return {
    pid: process.pid,
    bootId: bootId.trim(),
    pidNamespace: namespace.ino,
    startTime,
    nonce: randomBytes(16).toString('hex'),
  };
}

/** Field 22 of `/proc/<pid>/stat`, the process's start time; the command name (field 2) may hold spaces and parentheses. */
async function startTimeOf(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const start = fields[19];
  if (start === undefined || !/^\d+$/.test(start)) throw new Error(`unexpected /proc/${pid}/stat`);
  return start;
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
