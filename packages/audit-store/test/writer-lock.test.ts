import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditStoreError, FileAuditStore, fileStorePaths } from '../src/index.ts';
import { WriterLock } from '../src/writer-lock.ts';
import { makeEvent } from './helpers/events.ts';
import { tempDirectory } from './helpers/postgres.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'lock-contender.ts');
const directories: Array<{ remove(): void }> = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const created of directories) created.remove();
});
const directory = (tag: string) => {
  const created = tempDirectory(tag);
  directories.push(created);
  return created.path;
};

const isLocked = (error: unknown) => {
  assert.ok(error instanceof AuditStoreError);
  assert.equal(error.code, 'ERR_AUDIT_STORE_LOCKED');
  return true;
};

/** Runs `contenders` processes that all try to take the lock at `path` at the same moment. */
async function race(path: string, contenders: number): Promise<string[]> {
  const startAt = Date.now() + 1500;
  return Promise.all(
    Array.from({ length: contenders }, () => {
      const child = spawn(process.execPath, [FIXTURE, path, String(startAt)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise<string>((resolve, reject) => {
        let output = '';
        child.stdout!.on('data', (chunk) => {
          output += chunk;
          if (output.includes('\n')) resolve(output.trim());
        });
        child.on('error', reject);
        child.on('exit', () => resolve(output.trim()));
      });
    }),
  );
}

describe('writer lock', () => {
  it('a lock file naming this pid, left by an earlier process (a restarted container) is taken over', async () => {
    const path = directory('lock-ownpid');
    const { lock } = fileStorePaths(path, 'pid1');
    // This process does not hold it: the previous process with the same pid crashed holding it.
    writeFileSync(lock, `${process.pid}\n`);
    const store = await FileAuditStore.open({ directory: path, writer: 'pid1' });
    await store.write(makeEvent());
    assert.equal(readFileSync(lock, 'utf8'), `${process.pid}\n`);
    // While it holds the lock, a second store in this same process is refused.
    await assert.rejects(FileAuditStore.open({ directory: path, writer: 'pid1' }), isLocked);
    await store.close();
    assert.equal(existsSync(lock), false);
    await (await FileAuditStore.open({ directory: path, writer: 'pid1' })).close();
  });

  it('two acquisitions of one lock in this process: the second is refused until the first is released', async () => {
    const path = join(directory('lock-twice'), 'w.lock');
    const [first, second] = await Promise.allSettled([WriterLock.acquire(path), WriterLock.acquire(path)]);
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status, 'rejected');
    isLocked((second as PromiseRejectedResult).reason);
    await (first as PromiseFulfilledResult<WriterLock>).value.release();
    await (await WriterLock.acquire(path)).release();
  });

  it('a lock held by another running process is refused; one left by a dead process, or empty, is taken over', async () => {
    const path = join(directory('lock-other'), 'w.lock');
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    children.push(sleeper);
    writeFileSync(path, `${sleeper.pid}\n`);
    await assert.rejects(WriterLock.acquire(path), isLocked);
    assert.equal(readFileSync(path, 'utf8'), `${sleeper.pid}\n`);
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    sleeper.kill('SIGKILL');
    await exited;
    const taken = await WriterLock.acquire(path);
    assert.equal(readFileSync(path, 'utf8'), `${process.pid}\n`);
    await taken.release();
    writeFileSync(path, '');
    await (await WriterLock.acquire(path)).release();
  });

  it('processes racing for a free lock: exactly one gets it, and never sees a lock file without its pid', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = directory('lock-race');
      const path = join(dir, 'w.lock');
      const results = await race(path, 8);
      assert.equal(results.filter((result) => result === 'held').length, 1, results.join(','));
      assert.equal(results.filter((result) => result === 'locked').length, 7, results.join(','));
      assert.match(readFileSync(path, 'utf8'), /^[1-9][0-9]*\n$/);
      // No temporary files left behind.
      assert.deepEqual(readdirSync(dir), ['w.lock']);
      for (const child of children.splice(0)) child.kill('SIGKILL');
    }
  });
});
