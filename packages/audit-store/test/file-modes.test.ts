import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuditStoreError,
  FileAuditStore,
  fileStorePaths,
  outboxPaths,
  PostgresAuditStore,
} from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { postgresTestRun } from './helpers/postgres.ts';

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
const POSIX = process.platform !== 'win32';
const ROOT = process.getuid?.() === 0;

/** Every file the store left in `directory`, with its mode. */
const modes = (directory: string) =>
  Object.fromEntries(readdirSync(directory).map((name) => [name, modeOf(join(directory, name))]));

const isInsecure = (error: unknown) => {
  assert.ok(error instanceof AuditStoreError);
  assert.equal(error.code, 'ERR_AUDIT_STORE_INSECURE');
  return true;
};

describe('audit files are readable by the store’s own account only', { skip: !POSIX }, () => {
  const run = postgresTestRun('modes');
  let umask: number;
  // A permissive umask proves the modes are Baton's, not the environment's.
  before(() => {
    umask = process.umask(0);
  });
  after(() => {
    process.umask(umask);
  });

  it('a local user cannot read a new file store: directory 0700, log, checkpoint keys and lock 0600', async () => {
    const directory = join(run.directory('modes-new'), 'nested', 'audit');
    const store = await FileAuditStore.open({ directory, writer: 'w', checkpointEvery: 2 });
    for (let i = 0; i < 5; i++) await store.write(makeEvent()); // checkpoints are appended as they fall due
    const paths = fileStorePaths(directory, 'w');
    assert.equal(modeOf(directory), '0700');
    assert.equal(modeOf(join(directory, '..')), '0700', 'missing parents are created owner-only too');
    assert.equal(modeOf(paths.lock), '0600');
    await store.close();
    assert.deepEqual(modes(directory), { 'w.audit.jsonl': '0600', 'w.checkpoint-keys.json': '0600' });
  });

  it('files the PostgreSQL store creates later (outbox, its rotation state, keys) are 0600', async () => {
    const outbox = join(run.directory('modes-outbox'), 'outbox');
    const store = await PostgresAuditStore.open({
      pool: run.pool,
      tablePrefix: run.tablePrefix(),
      outboxDirectory: outbox,
      writer: 'rot',
      rotateBytes: 0,
    });
    for (let i = 0; i < 3; i++) await store.write(makeEvent());
    await store.close();
    assert.equal(modeOf(outbox), '0700');
    assert.deepEqual(modes(outbox), {
      'rot.checkpoint-keys.json': '0600',
      'rot.outbox-state.json': '0600',
      'rot.outbox.jsonl': '0600',
    });
  });

  it('tightens a world-readable directory and files an earlier version left (0755 / 0644) when it opens them', async () => {
    const directory = run.directory('modes-old');
    const first = await FileAuditStore.open({ directory, writer: 'w' });
    await first.write(makeEvent());
    await first.close();
    const paths = fileStorePaths(directory, 'w');
    chmodSync(directory, 0o755);
    chmodSync(paths.log, 0o644);
    chmodSync(paths.keys, 0o666);
    const reopened = await FileAuditStore.open({ directory, writer: 'w' });
    assert.equal(modeOf(directory), '0700');
    assert.equal(modeOf(paths.log), '0600');
    assert.equal(modeOf(paths.keys), '0600');
    await reopened.close();
  });

  it('tightens an outbox state file left world-readable, and a stale temporary file is not reused with its mode', async () => {
    const outbox = run.directory('modes-state');
    const paths = outboxPaths(outbox, 'st');
    const options = {
      pool: run.pool,
      tablePrefix: run.tablePrefix(),
      outboxDirectory: outbox,
      writer: 'st',
      rotateBytes: 0,
    };
    const store = await PostgresAuditStore.open(options);
    await store.write(makeEvent());
    await store.close();
    chmodSync(paths.state, 0o644);
    // What a crash between write and rename leaves, found again by a process with the same pid.
    writeFileSync(`${paths.state}.${process.pid}.tmp`, 'stale', { mode: 0o666 });
    const reopened = await PostgresAuditStore.open(options);
    assert.equal(modeOf(paths.state), '0600');
    await reopened.write(makeEvent()); // rotates again: the state file is rewritten through the stale name
    await reopened.close();
    assert.equal(modeOf(paths.state), '0600');
  });

  it('refuses a directory another account owns (ERR_AUDIT_STORE_INSECURE)', { skip: !ROOT }, async () => {
    const directory = run.directory('modes-foreign');
    chownSync(directory, 65534, 65534);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
  });

  it('refuses a log file another account owns, and a log path that is not a file', {
    skip: !ROOT,
  }, async () => {
    const directory = run.directory('modes-foreign-file');
    const paths = fileStorePaths(directory, 'w');
    writeFileSync(paths.log, '', { mode: 0o600 });
    chownSync(paths.log, 65534, 65534);
    await assert.rejects(FileAuditStore.open({ directory, writer: 'w' }), isInsecure);
    const other = run.directory('modes-not-a-file');
    mkdirSync(fileStorePaths(other, 'w').keys);
    await assert.rejects(FileAuditStore.open({ directory: other, writer: 'w' }), isInsecure);
  });
});
