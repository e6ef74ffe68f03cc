import { open, readFile, unlink } from 'node:fs/promises';
import { AuditStoreError } from './errors.ts';

/**
 * One process appends to a writer's chain at a time: two appenders would fork it. The lock is a file
 * holding the owner's pid, created exclusively. A lock left by a process that no longer runs (a crash,
 * SIGKILL) is taken over, since recovery is exactly what the next opener does.
 */
export class WriterLock {
  readonly #path: string;
  #held = true;

  private constructor(path: string) {
    this.#path = path;
  }

  static async acquire(path: string): Promise<WriterLock> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o644);
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return new WriterLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner > 0 && isRunning(owner)) {
        throw new AuditStoreError(
          'ERR_AUDIT_STORE_LOCKED',
          `${path} is held by running process ${owner}${owner === process.pid ? ' (this one)' : ''}`,
        );
      }
      await unlink(path).catch(() => {});
    }
    throw new AuditStoreError('ERR_AUDIT_STORE_LOCKED', `${path} could not be acquired`);
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.#path).catch(() => {});
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
