import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmod,
  chown,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createSecretFile,
  isMissingSecretFile,
  readSecretFile,
  withFileLock,
  writeSecretFile,
} from '../src/node/index.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baton-secret-file-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('secret files', () => {
  it('writes owner-only, replaces atomically, and leaves no temporary file behind', async () => {
    const path = join(dir, 'atomic.json');
    await writeSecretFile(path, 'first');
    await writeSecretFile(path, 'second');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await readSecretFile(path)).text, 'second');
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith('atomic.json.')),
      [],
    );
  });

  it('a secret file readable by others is refused, and the error says how to fix it', async () => {
    const path = join(dir, 'loose.json');
    await writeSecretFile(path, 'SECRET-CONTENT');
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      await chmod(path, mode);
      await assert.rejects(readSecretFile(path, { label: 'key file' }), (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /must not be readable or writable by group or others/);
        assert.match(error.message, /chmod 600/);
        assert.equal(error.message.includes('SECRET-CONTENT'), false);
        return true;
      });
    }
  });

  it('each package keeps its own error class: the factory builds what is thrown', async () => {
    class PackageError extends Error {
      readonly code = 'ERR_PACKAGE';
    }
    await assert.rejects(
      readSecretFile(join(dir, 'missing.json'), {
        error: (message, cause) => new PackageError(message, { cause }),
      }),
      (error: unknown) => error instanceof PackageError && isMissingSecretFile(error),
    );
  });

  it('a link planted at the path is refused unless links are explicitly followed', async () => {
    const target = join(dir, 'target.json');
    const planted = join(dir, 'planted.json');
    await writeSecretFile(target, 'TARGET-CONTENT');
    await symlink(target, planted);
    await assert.rejects(readSecretFile(planted), /symbolic link/);
    assert.equal((await readSecretFile(planted, { followLinks: true })).text, 'TARGET-CONTENT');
    await chmod(target, 0o644);
    await assert.rejects(
      readSecretFile(planted, { followLinks: true }),
      /chmod 600/,
      'the target is checked',
    );
  });

  it('two creators racing: exactly one wins and both read the winner', async () => {
    const path = join(dir, 'nested', 'created.json');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createSecretFile(path, `creator-${i}`)),
    );
    assert.equal(results.filter(Boolean).length, 1);
    const winner = results.indexOf(true);
    assert.equal(await readFile(path, 'utf8'), `creator-${winner}`);
    assert.equal((await stat(join(dir, 'nested'))).mode & 0o777, 0o700);
  });

  it('two read-modify-writes under the lock lose neither change', async () => {
    const path = join(dir, 'counter.json');
    await writeSecretFile(path, '[]');
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        withFileLock(path, 5000, async () => {
          const items = JSON.parse((await readSecretFile(path)).text) as number[];
          await new Promise((resolve) => setTimeout(resolve, 5));
          await writeSecretFile(path, JSON.stringify([...items, i]));
        }),
      ),
    );
    const items = JSON.parse((await readSecretFile(path)).text) as number[];
    assert.deepEqual(items.sort(), [0, 1, 2, 3, 4]);
  });

  it('a lock held past the wait is reported with the file to remove', async () => {
    const path = join(dir, 'held.json');
    await writeFile(`${path}.lock`, '');
    await assert.rejects(
      withFileLock(path, 50, async () => {}),
      (error: unknown) => error instanceof Error && error.message.includes(`${path}.lock`),
    );
  });

  it('a key file owned by another user is refused (they could have put their own key there)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to give a file to another uid');
    const path = join(dir, 'foreign.json');
    await writeSecretFile(path, 'FOREIGN-CONTENT');
    await chown(path, 65534, 65534);
    await assert.rejects(readSecretFile(path, { label: 'key file' }), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /owned by uid 65534/);
      assert.equal(error.message.includes('FOREIGN-CONTENT'), false);
      return true;
    });
    // Through a link too (a mounted secret): the owner is checked on the opened target.
    const planted = join(dir, 'foreign-link.json');
    await symlink(path, planted);
    await assert.rejects(readSecretFile(planted, { followLinks: true }), /owned by uid 65534/);
    // Root's own files stay readable (a secret volume mounted as root).
    await chown(path, 0, 0);
    assert.equal((await readSecretFile(path)).text, 'FOREIGN-CONTENT');
  });

  it('a FIFO planted at the path is refused without hanging the process', async () => {
    const path = join(dir, 'planted-fifo.json');
    execFileSync('mkfifo', ['-m', '600', path]);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), 2000);
    });
    try {
      const outcome = await Promise.race([
        readSecretFile(path).then(
          () => 'read',
          (error: unknown) => error,
        ),
        hung,
      ]);
      assert.notEqual(outcome, 'hung', 'reading a FIFO blocked the process');
      assert.ok(outcome instanceof Error);
      assert.match(outcome.message, /not a regular file/);
    } finally {
      clearTimeout(timer);
    }
  });

  it('a lock file that another process took over during the run is not unlinked by this one', async () => {
    const path = join(dir, 'taken-over.json');
    await writeSecretFile(path, '[]');
    await withFileLock(path, 1000, async () => {
      // Someone broke this lock as stale and took it: the lock at the path is now theirs.
      await unlink(`${path}.lock`);
      await writeFile(`${path}.lock`, 'theirs');
    });
    assert.equal(await readFile(`${path}.lock`, 'utf8'), 'theirs', "the other process's lock was removed");
  });
});
