import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PostgresAuditStore, verifyAuditLog } from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { readLines } from './helpers/log-lines.ts';
import { postgresTestRun } from './helpers/postgres.ts';

const { pool, unreachable: down, tablePrefix, directory } = postgresTestRun('pg');

const rowCount = async (prefix: string, writer: string) =>
  Number(
    (await pool.query(`SELECT count(*) AS n FROM ${prefix}audit_events WHERE writer = $1`, [writer])).rows[0]
      .n,
  );

describe('PostgresAuditStore', () => {
  it('writes through the outbox into PostgreSQL: columns for the query fields, the event as jsonb, the chain', async () => {
    const prefix = tablePrefix();
    const outbox = directory('pg-basic');
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'api-1',
    });
    const event = makeEvent({ reason: 'scope_insufficient', outcome: 'denied' });
    await store.write(event);
    assert.equal(store.pending, 0);
    const { rows } = await pool.query(`SELECT * FROM ${prefix}audit_events`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].writer, 'api-1');
    assert.equal(Number(rows[0].seq), 1);
    assert.equal(rows[0].id, event.id);
    assert.equal(rows[0].trace_id, event.trace_id);
    assert.equal(rows[0].initiator_sub, 'alice');
    assert.equal(rows[0].agent_client_id, 'client-1');
    assert.equal(rows[0].target_name, 'orders.list');
    assert.equal(rows[0].outcome, 'denied');
    assert.equal(rows[0].time, event.time);
    assert.deepEqual(rows[0].event, event);
    // The same record (seq, prev, hash) is in the outbox, written before the insert.
    const [line] = readLines(store.outboxPath);
    assert.equal(line!.hash, rows[0].hash);
    await store.close();
    const report = await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'api-1' });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.checkpoints, 1);
  });

  it('drains an outbox on open exactly once, however often it is drained', async () => {
    const prefix = tablePrefix();
    const outbox = directory('pg-once');
    const offline = await PostgresAuditStore.open({
      pool: down,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'w',
      failurePolicy: 'buffer',
    });
    const events = Array.from({ length: 5 }, () => makeEvent());
    for (const event of events) await offline.write(event);
    assert.equal(offline.pending, 5);
    await offline.close();
    // Open, drain, close three times over the same outbox: the outbox keeps its lines (no rotation
    // below 1 MiB), so each open inserts them again, as after a crash between insert and rotation.
    for (let round = 0; round < 3; round++) {
      const store = await PostgresAuditStore.open({
        pool,
        tablePrefix: prefix,
        outboxDirectory: outbox,
        writer: 'w',
      });
      assert.equal(store.pending, 0);
      await store.close();
      assert.equal(await rowCount(prefix, 'w'), 5);
    }
    const report = await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'w' });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.events, 5);
  });

  it('empties a drained outbox (rotation) and continues the chain from the recorded head', async () => {
    const prefix = tablePrefix();
    const outbox = directory('pg-rotate');
    const options = { pool, tablePrefix: prefix, outboxDirectory: outbox, writer: 'rot', rotateBytes: 0 };
    const store = await PostgresAuditStore.open(options);
    for (let i = 0; i < 4; i++) await store.write(makeEvent());
    const head = store.head;
    await store.close();
    assert.equal(statSync(store.outboxPath).size, 0);
    const state = JSON.parse(readFileSync(`${outbox}/rot.outbox-state.json`, 'utf8'));
    assert.deepEqual(state, head);
    const reopened = await PostgresAuditStore.open(options);
    assert.deepEqual(reopened.head, head);
    await reopened.write(makeEvent());
    await reopened.close();
    const report = await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'rot' });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.events, 5);
  });

  it('refuses a second chain under the same writer name (a lost or foreign outbox)', async () => {
    const prefix = tablePrefix();
    const first = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: directory('pg-c1'),
      writer: 'dup',
    });
    await first.write(makeEvent());
    await first.close();
    await assert.rejects(
      PostgresAuditStore.open({
        pool,
        tablePrefix: prefix,
        outboxDirectory: directory('pg-c2'),
        writer: 'dup',
      }),
      { code: 'ERR_AUDIT_STORE_WRITER_CONFLICT' },
    );
    assert.equal(await rowCount(prefix, 'dup'), 1);
  });

  it('keeps writers apart: one table, one chain per writer', async () => {
    const prefix = tablePrefix();
    const a = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: directory('pg-a'),
      writer: 'a',
    });
    const b = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: directory('pg-b'),
      writer: 'b',
    });
    await Promise.all([a.write(makeEvent()), b.write(makeEvent()), a.write(makeEvent())]);
    await a.close();
    await b.close();
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'a' })).events, 2);
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'b' })).events, 1);
  });

  it('holds its outbox exclusively', async () => {
    const prefix = tablePrefix();
    const outbox = directory('pg-lock');
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'l',
    });
    await assert.rejects(
      PostgresAuditStore.open({ pool, tablePrefix: prefix, outboxDirectory: outbox, writer: 'l' }),
      {
        code: 'ERR_AUDIT_STORE_LOCKED',
      },
    );
    await store.close();
    assert.equal(existsSync(`${outbox}/l.outbox.lock`), false);
  });

  it('refuses misuse at construction with TypeError', async () => {
    const outbox = directory('pg-misuse');
    const good = { pool, outboxDirectory: outbox, writer: 'm' };
    await assert.rejects(PostgresAuditStore.open({ ...good, pool: undefined as never }), TypeError);
    await assert.rejects(PostgresAuditStore.open({ ...good, tablePrefix: 'Bad-Prefix;' }), TypeError);
    await assert.rejects(PostgresAuditStore.open({ ...good, writer: undefined as never }), TypeError);
    await assert.rejects(PostgresAuditStore.open({ ...good, outboxDirectory: '' }), TypeError);
    await assert.rejects(PostgresAuditStore.open({ ...good, failurePolicy: 'drop' as never }), TypeError);
    await assert.rejects(PostgresAuditStore.open({ ...good, checkpointEvery: 1.5 }), TypeError);
  });
});
