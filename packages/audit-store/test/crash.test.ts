import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  FileAuditStore,
  fileStorePaths,
  outboxPaths,
  PostgresAuditStore,
  verifyAuditLog,
} from '../src/index.ts';
import { POSTGRES_URL, postgresTestRun, UNREACHABLE_URL } from './helpers/postgres.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const { pool, tablePrefix: freshTablePrefix, directory: temporaryDirectory } = postgresTestRun('crash');

/**
 * Runs the writer child and SIGKILLs it once `killAfter` writes were acknowledged. Returns every id it
 * acknowledged (including any already in the pipe when the signal landed).
 */
function writeUntilKilled(config: Record<string, unknown>, killAfter: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acknowledged: string[] = [];
    let pending = '';
    let stderr = '';
    let finished = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === 'done') finished = true;
        else if (line !== 'ready') acknowledged.push(line);
      }
      if (acknowledged.length >= killAfter && child.exitCode === null) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      if (finished || signal !== 'SIGKILL') {
        reject(new Error(`the writer was not killed mid-burst (signal ${signal}): ${stderr}`));
      } else {
        resolve(acknowledged);
      }
    });
  });
}

describe('crash safety: SIGKILL mid-burst', () => {
  it('FileAuditStore: every acknowledged event survives, the chain verifies, a torn tail is cut (3 kills)', async () => {
    const directory = temporaryDirectory('crash-file');
    const acknowledged: string[] = [];
    for (let round = 0; round < 3; round++) {
      acknowledged.push(
        ...(await writeUntilKilled(
          { kind: 'file', directory: directory, writer: 'crashy', count: 200_000, concurrency: 16 },
          300 + round * 200,
        )),
      );
      if (round === 1) {
        // SIGKILL lands between write(2) calls (the kernel finishes a write to a regular file), so the
        // tail a power cut or a full disk can leave is added by hand: half of the next line.
        appendFileSync(
          fileStorePaths(directory, 'crashy').log,
          '{"seq":999999,"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"12',
        );
      }
      // Before recovery: at most a torn last line, never a problem with an acknowledged record.
      const before = await verifyAuditLog({ directory: directory, writer: 'crashy' });
      assert.deepEqual(
        before.problems.filter((problem) => problem.kind !== 'torn_line'),
        [],
      );
      if (round === 1) {
        assert.deepEqual(
          before.problems.map((problem) => problem.kind),
          ['torn_line'],
        );
      }
      const store = await FileAuditStore.open({ directory: directory, writer: 'crashy' });
      const stored = new Set((await store.query({})).map((event) => event.id));
      await store.close();
      const missing = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], `round ${round}: acknowledged but lost`);
      const report = await verifyAuditLog({ directory: directory, writer: 'crashy' });
      assert.deepEqual(report.problems, []);
      assert.ok(report.events >= acknowledged.length);
    }
  });

  for (const [label, url, failurePolicy] of [
    [
      'buffer policy, PostgreSQL unreachable: acknowledged = durable in the outbox only',
      UNREACHABLE_URL,
      'buffer',
    ],
    ['fail-closed, PostgreSQL up: killed between outbox and insert', POSTGRES_URL, 'fail-closed'],
  ] as const) {
    it(`PostgresAuditStore (${label}): every acknowledged event is in PostgreSQL after the drain, once`, async () => {
      const directory = temporaryDirectory('crash-pg');
      const tablePrefix = freshTablePrefix();
      const acknowledged = await writeUntilKilled(
        {
          kind: 'postgres',
          directory: directory,
          writer: 'crashy',
          count: 200_000,
          concurrency: 16,
          url,
          tablePrefix,
          failurePolicy,
        },
        400,
      );
      // The outbox recovers like the file store: a torn tail is cut, not drained and not refused.
      appendFileSync(outboxPaths(directory, 'crashy').log, '{"seq":999999,"prev":"00');
      const store = await PostgresAuditStore.open({
        pool,
        tablePrefix,
        outboxDirectory: directory,
        writer: 'crashy',
      });
      assert.equal(store.pending, 0);
      const head = store.head;
      await store.close();
      const { rows } = await pool.query(`SELECT id FROM ${tablePrefix}audit_events WHERE writer = 'crashy'`);
      const stored = new Set(rows.map((row) => row.id as string));
      assert.equal(stored.size, rows.length, 'no event inserted twice');
      assert.deepEqual(
        acknowledged.filter((id) => !stored.has(id)),
        [],
        'acknowledged but not in PostgreSQL',
      );
      assert.equal(rows.length, head.seq, 'every outbox record drained');
      const report = await verifyAuditLog({ pool, tablePrefix, writer: 'crashy' });
      assert.deepEqual(report.problems, []);
    });
  }
});
