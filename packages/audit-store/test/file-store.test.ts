import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { type AuditStoreError, FileAuditStore, GENESIS_HASH, verifyAuditLog } from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { readLines } from './helpers/log-lines.ts';
import { tempDirectory } from './helpers/postgres.ts';

const directories: Array<{ path: string; remove(): void }> = [];
const directory = (tag: string) => {
  const created = tempDirectory(tag);
  directories.push(created);
  return created.path;
};
after(() => {
  for (const created of directories) created.remove();
});

describe('FileAuditStore', () => {
  it('appends hash-chained lines: seq from 1, prev linking each to the last, genesis 64 zeros', async () => {
    const path = directory('chain');
    const store = await FileAuditStore.open({ directory: path, writer: 'w1' });
    const events = [makeEvent(), makeEvent(), makeEvent()];
    for (const event of events) await store.write(event);
    await store.close();
    const lines = readLines(store.path).filter((line) => line.seq !== undefined);
    assert.deepEqual(
      lines.map((line) => line.seq),
      [1, 2, 3],
    );
    assert.equal(lines[0]!.prev, GENESIS_HASH);
    assert.equal(lines[1]!.prev, lines[0]!.hash);
    assert.equal(lines[2]!.prev, lines[1]!.hash);
    assert.deepEqual(
      lines.map((line) => line.event!.id),
      events.map((event) => event.id),
    );
    assert.match(store.path, /w1\.audit\.jsonl$/);
  });

  it('continues the chain after reopening, and the whole log verifies', async () => {
    const path = directory('reopen');
    const first = await FileAuditStore.open({ directory: path });
    for (let i = 0; i < 5; i++) await first.write(makeEvent());
    const head = first.head;
    await first.close();
    const second = await FileAuditStore.open({ directory: path });
    assert.deepEqual(second.head, head);
    await second.write(makeEvent());
    assert.equal(second.head.seq, 6);
    await second.close();
    const report = await verifyAuditLog({ directory: path });
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.equal(report.events, 6);
  });

  it('takes many concurrent writes (group commit) and keeps every one, in one valid chain', async () => {
    const path = directory('group');
    const store = await FileAuditStore.open({ directory: path, checkpointEvery: 50 });
    const events = Array.from({ length: 500 }, () => makeEvent());
    await Promise.all(events.map((event) => store.write(event)));
    await store.close();
    const report = await verifyAuditLog({ directory: path });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.events, 500);
    const reopened = await FileAuditStore.open({ directory: path });
    const stored = new Set((await reopened.query({})).map((event) => event.id));
    await reopened.close();
    for (const event of events) assert.ok(stored.has(event.id));
  });

  it('signs a checkpoint every checkpointEvery events and on close', async () => {
    const path = directory('checkpoints');
    const store = await FileAuditStore.open({ directory: path, checkpointEvery: 10 });
    for (let i = 0; i < 25; i++) await store.write(makeEvent());
    await store.close();
    const checkpoints = readLines(store.path).filter((line) => line.checkpoint);
    assert.deepEqual(
      checkpoints.map((line) => line.checkpoint!.seq),
      [10, 20, 25],
    );
    const keys = JSON.parse(readFileSync(store.keysPath, 'utf8')) as {
      keys: Array<{ kid: string; alg: string }>;
    };
    assert.equal(keys.keys[0]!.alg, 'ES256');
    assert.equal(checkpoints[0]!.checkpoint!.kid, keys.keys[0]!.kid);
    const report = await verifyAuditLog({ directory: path });
    assert.equal(report.ok, true);
    assert.equal(report.checkpoints, 3);
  });

  it('signs with a caller-supplied ES256 key, and pinned keys must match it', async () => {
    const path = directory('pinned');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const store = await FileAuditStore.open({ directory: path, signingKey: privateKey, checkpointEvery: 2 });
    for (let i = 0; i < 4; i++) await store.write(makeEvent());
    await store.close();
    const published = JSON.parse(readFileSync(store.keysPath, 'utf8')) as { keys: unknown[] };
    assert.equal((await verifyAuditLog({ directory: path, trustedKeys: published })).ok, true);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'jwk' });
    const report = await verifyAuditLog({ directory: path, trustedKeys: [other] });
    assert.equal(report.ok, false);
    assert.ok(report.problems.every((problem) => problem.kind === 'signature_invalid'));
    // Checkpoints at seq 2 and 4 (close adds none: nothing came after the last one).
    assert.equal(report.problems.length, 2);
  });

  it('cuts a torn last line on open (a crash mid-write) and continues the chain', async () => {
    const path = directory('torn');
    const store = await FileAuditStore.open({ directory: path });
    for (let i = 0; i < 3; i++) await store.write(makeEvent());
    await store.close();
    const intact = statSync(store.path).size;
    appendFileSync(store.path, '{"seq":4,"prev":"00ab');
    const before = await verifyAuditLog({ directory: path });
    assert.deepEqual(
      before.problems.map((problem) => problem.kind),
      ['torn_line'],
    );
    const reopened = await FileAuditStore.open({ directory: path });
    assert.equal(statSync(reopened.path).size, intact);
    await reopened.write(makeEvent());
    assert.equal(reopened.head.seq, 4);
    await reopened.close();
    assert.equal((await verifyAuditLog({ directory: path })).ok, true);
  });

  it('refuses to open (and so to extend) a log that does not verify', async () => {
    const path = directory('refuse');
    const store = await FileAuditStore.open({ directory: path });
    for (let i = 0; i < 3; i++) await store.write(makeEvent());
    await store.close();
    writeFileSync(
      store.path,
      readFileSync(store.path, 'utf8').replace('"outcome":"ok"', '"outcome":"denied"'),
    );
    await assert.rejects(FileAuditStore.open({ directory: path }), (error: AuditStoreError) => {
      assert.equal(error.code, 'ERR_AUDIT_LOG_TAMPERED');
      assert.equal(
        (error.report as { problems: Array<{ kind: string; seq: number }> }).problems[0]!.kind,
        'altered',
      );
      return true;
    });
  });

  it('lets one store at a time hold a writer', async () => {
    const path = directory('lock');
    const store = await FileAuditStore.open({ directory: path, writer: 'solo' });
    await assert.rejects(FileAuditStore.open({ directory: path, writer: 'solo' }), {
      code: 'ERR_AUDIT_STORE_LOCKED',
    });
    const other = await FileAuditStore.open({ directory: path, writer: 'other' });
    await other.close();
    await store.close();
    await (await FileAuditStore.open({ directory: path, writer: 'solo' })).close();
  });

  it('rejects rather than drops: invalid events and writes after close', async () => {
    const path = directory('reject');
    const store = await FileAuditStore.open({ directory: path });
    await assert.rejects(store.write({ ...makeEvent(), id: '' }), { code: 'ERR_AUDIT_EVENT_INVALID' });
    await assert.rejects(store.write({ ...makeEvent(), component: 'a\u0000b' }), {
      code: 'ERR_AUDIT_EVENT_INVALID',
    });
    await assert.rejects(store.write(null as never), { code: 'ERR_AUDIT_EVENT_INVALID' });
    await store.close();
    await assert.rejects(store.write(makeEvent()), { code: 'ERR_AUDIT_STORE_CLOSED' });
    assert.equal((await verifyAuditLog({ directory: path })).events, 0);
  });

  it('refuses misuse at construction with TypeError', async () => {
    const path = directory('misuse');
    await assert.rejects(FileAuditStore.open({ directory: '' }), TypeError);
    await assert.rejects(FileAuditStore.open({ directory: path, writer: '../escape' }), TypeError);
    await assert.rejects(FileAuditStore.open({ directory: path, checkpointEvery: 0 }), TypeError);
    await assert.rejects(
      FileAuditStore.open({ directory: path, failurePolicy: 'buffer' as never }),
      TypeError,
    );
    const ed25519 = generateKeyPairSync('ed25519').privateKey;
    await assert.rejects(FileAuditStore.open({ directory: path, signingKey: ed25519 }), TypeError);
    const publicOnly = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    await assert.rejects(FileAuditStore.open({ directory: path, signingKey: publicOnly }), TypeError);
  });
});
