import { randomBytes } from 'node:crypto';
import { link, type open, stat, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AuditStoreError } from './errors.ts';
import { openWithoutFollowing, PRIVATE_FILE_MODE, READ_FLAGS } from './private-files.ts';

/**
 * Lock files this process holds (or is acquiring), by absolute path. A lock file naming this process's
 * pid is not proof that this process holds it: after a crash, a restarted container runs node as the
 * same pid (often 1) again, so only this set says which locks are really ours.
 */
const heldHere = new Set<string>();

/**
 * One process appends to a writer's chain at a time: two appenders would fork it. The lock is a file
 * holding the owner's pid. It is written complete under a temporary name and then hard-linked into
 * place, which fails if the lock exists: a rival never sees a lock file without its pid. A lock left
 * by a process that no longer runs (a crash, SIGKILL), or by an earlier process that had this one's
 * pid, is taken over, since recovery is exactly what the next opener does. Within this process, a
 * second store for the same writer is refused while the first holds the lock.
 */
export class WriterLock {
  readonly #path: string;
  readonly #key: string;
  #held = true;

  private constructor(path: string, key: string) {
    this.#path = path;
    this.#key = key;
  }

  static async acquire(path: string): Promise<WriterLock> {
    const key = resolve(path);
    if (heldHere.has(key)) {
      throw new AuditStoreError('ERR_AUDIT_STORE_LOCKED', `${path} is held by another store in this process`);
    }
    // Reserved before the first await, so two opens in this process cannot both get past here.
    heldHere.add(key);
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (await createLockFile(path)) return new WriterLock(path, key);
        const current = await readLockFile(path);
        if (current === undefined) continue; // released meanwhile: try again
        const { owner, ino } = current;
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
          throw new AuditStoreError('ERR_AUDIT_STORE_LOCKED', `${path} is held by running process ${owner}`);
        }
        // Stale (dead owner, this pid from an earlier process, or debris of a crash while creating it).
        // Remove it only if it is still the file just read, not a lock a rival has taken since.
        const now = await stat(path).catch(() => undefined);
        if (now?.ino === ino) await unlink(path).catch(() => {});
      }
      throw new AuditStoreError('ERR_AUDIT_STORE_LOCKED', `${path} could not be acquired`);
    } catch (error) {
      heldHere.delete(key);
      throw error;
    }
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.#path).catch(() => {});
    heldHere.delete(this.#key);
  }
}

/** Creates the lock file with this process's pid already in it; false if it exists. */
async function createLockFile(path: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${process.pid}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

/** The pid in the lock file (NaN if unreadable) and the file's inode; undefined if it is gone. */
async function readLockFile(path: string): Promise<{ owner: number; ino: number } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await openWithoutFollowing(path, READ_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { ino } = await handle.stat();
    const owner = Number.parseInt(await handle.readFile('utf8'), 10);
    return { owner, ino };
  } finally {
    await handle.close();
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
