import assert from 'node:assert/strict';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditStoreError, FileAuditStore, fileStorePaths } from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { tempDirectory } from './helpers/postgres.ts';

const POSIX = process.platform !== 'win32';

const isInsecure = (error: unknown) => {
  assert.ok(error instanceof AuditStoreError);
  assert.equal(error.code, 'ERR_AUDIT_STORE_INSECURE');
  return true;
};

/**
 * Someone who could put a name into the store directory (a loose directory an earlier version left, a
 * shared parent) plants a link there, so that the store's next write lands in a file of their choice.
 */
describe('links planted where the audit store expects its own files', { skip: !POSIX }, () => {
  const removers: Array<() => void> = [];
  const scratch = (tag: string) => {
    const { path, remove } = tempDirectory(tag);
    removers.push(remove);
    return path;
  };
  after(() => {
    for (const remove of removers) remove();
  });

  /** A file outside the store the attacker wants the store to write into (e.g. a config file). */
  const victimFile = () => {
    const victim = join(scratch('victim'), 'victim.conf');
    writeFileSync(victim, 'original\n', { mode: 0o600 });
    return victim;
  };

  it('refuses a symlink planted at the log path (pointing outside the store) with ERR_AUDIT_STORE_INSECURE, and the target is not written', async () => {
    const directory = scratch('log-link');
    const victim = victimFile();
    symlinkSync(victim, fileStorePaths(directory, 'w').log);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    assert.equal(readFileSync(victim, 'utf8'), 'original\n');
    assert.equal(statSync(victim).mode & 0o777, 0o600);
  });

  it('refuses a symlink to a missing file planted at the log path: the store does not create the target', async () => {
    const directory = scratch('log-dangling');
    const target = join(scratch('dangling-target'), 'created-by-the-store');
    symlinkSync(target, fileStorePaths(directory, 'w').log);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    assert.throws(() => statSync(target), { code: 'ENOENT' });
  });

  it('refuses a hard link planted at the log path (a second name for a file elsewhere)', async () => {
    const directory = scratch('log-hard-link');
    const victim = victimFile();
    linkSync(victim, fileStorePaths(directory, 'w').log);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    assert.equal(readFileSync(victim, 'utf8'), 'original\n');
  });

  it('refuses a symlink planted at the checkpoint keys path, and the target is not written', async () => {
    const directory = scratch('keys-link');
    const victim = victimFile();
    symlinkSync(victim, fileStorePaths(directory, 'w').keys);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    assert.equal(readFileSync(victim, 'utf8'), 'original\n');
  });

  it('refuses a store directory that is a symlink to a directory elsewhere', async () => {
    const elsewhere = scratch('elsewhere');
    const directory = join(scratch('directory-link'), 'audit');
    symlinkSync(elsewhere, directory);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    assert.equal(statSync(join(elsewhere)).isDirectory(), true);
    assert.throws(() => statSync(fileStorePaths(elsewhere, 'w').log), { code: 'ENOENT' });
  });

  it('refuses a store directory whose parent other accounts may write without the sticky bit (they could swap the directory)', async () => {
    const parent = join(scratch('shared-parent'), 'shared');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    await assert.rejects(FileAuditStore.open({ directory: join(parent, 'audit'), writer: 'w' }), isInsecure);
    // With the sticky bit (as /tmp has), others cannot rename or remove what they do not own.
    chmodSync(parent, 0o1777);
    const store = await FileAuditStore.open({ directory: join(parent, 'audit'), writer: 'w' });
    await store.write(makeEvent());
    await store.close();
  });

  it('still opens, writes and reopens a store of plain files', async () => {
    const directory = scratch('plain');
    const first = await FileAuditStore.open({ directory, writer: 'w' });
    await first.write(makeEvent());
    await first.close();
    const second = await FileAuditStore.open({ directory, writer: 'w' });
    await second.write(makeEvent());
    await second.close();
    assert.equal(
      readFileSync(fileStorePaths(directory, 'w').log, 'utf8').split('\n').filter(Boolean).length > 2,
      true,
    );
  });
});
