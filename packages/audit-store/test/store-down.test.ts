import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditStoreError, PostgresAuditStore, verifyAuditLog } from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { readLines } from './helpers/log-lines.ts';
import { postgresTestRun } from './helpers/postgres.ts';
import { startProxy } from './helpers/tcp-proxy.ts';

const { pool, unreachable, tablePrefix, directory, poolTo } = postgresTestRun('down');

const idsInPostgres = async (prefix: string) =>
  (await pool.query(`SELECT id FROM ${prefix}audit_events ORDER BY seq`)).rows.map((row) => row.id as string);

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('PostgreSQL unreachable (postgres://postgres@127.0.0.1:1/test)', () => {
  it('fail-closed: write rejects ERR_AUDIT_STORE_UNAVAILABLE, the event is kept in the outbox and drained later', async () => {
    const prefix = tablePrefix();
    const outbox = directory('down-closed');
    const store = await PostgresAuditStore.open({
      pool: unreachable,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'fc',
    });
    const event = makeEvent();
    await assert.rejects(store.write(event), (error: AuditStoreError) => {
      assert.ok(error instanceof AuditStoreError);
      assert.equal(error.code, 'ERR_AUDIT_STORE_UNAVAILABLE');
      return true;
    });
    // Not dropped: durable in the outbox, counted as pending.
    assert.deepEqual(
      readLines(store.outboxPath).flatMap((line) => (line.event ? [line.event.id] : [])),
      [event.id],
    );
    assert.equal(store.pending, 1);
    await store.close();

    const reopened = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'fc',
    });
    assert.equal(reopened.pending, 0);
    assert.deepEqual(await idsInPostgres(prefix), [event.id]);
    await reopened.close();
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'fc' })).ok, true);
  });

  it('buffer: write resolves once the event is durable in the outbox; reopening with a reachable pool drains it', async () => {
    const prefix = tablePrefix();
    const outbox = directory('down-buffer');
    const store = await PostgresAuditStore.open({
      pool: unreachable,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'bf',
      failurePolicy: 'buffer',
    });
    const events = [makeEvent(), makeEvent(), makeEvent()];
    await Promise.all(events.map((event) => store.write(event)));
    assert.equal(store.pending, 3);
    await assert.rejects(store.drain(), { code: 'ERR_AUDIT_STORE_UNAVAILABLE' });
    await store.close();
    const reopened = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: 'bf',
    });
    assert.equal(reopened.pending, 0);
    assert.deepEqual(
      await idsInPostgres(prefix),
      events.map((event) => event.id),
    );
    await reopened.close();
  });
});

describe('PostgreSQL goes down and comes back (a TCP path to the real server, cut and restored)', () => {
  it('buffer: writes keep resolving while it is down; the background drain inserts them when it is back', async () => {
    const prefix = tablePrefix();
    const proxy = await startProxy(5432);
    const viaProxy = poolTo(proxy.url);
    const store = await PostgresAuditStore.open({
      pool: viaProxy,
      tablePrefix: prefix,
      outboxDirectory: directory('flap-buffer'),
      writer: 'flap',
      failurePolicy: 'buffer',
    });
    const first = makeEvent();
    await store.write(first);
    await until(() => store.pending === 0);

    await proxy.down();
    const during = [makeEvent(), makeEvent(), makeEvent()];
    for (const event of during) await store.write(event);
    assert.equal(store.pending, 3);
    assert.deepEqual(await idsInPostgres(prefix), [first.id]);

    await proxy.up();
    await until(() => store.pending === 0);
    assert.deepEqual(
      await idsInPostgres(prefix),
      [first, ...during].map((event) => event.id),
    );
    await store.close();
    await proxy.down();
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'flap' })).ok, true);
  });

  it('fail-closed: a write while it is down rejects; that event still reaches PostgreSQL, in chain order', async () => {
    const prefix = tablePrefix();
    const proxy = await startProxy(5432);
    const viaProxy = poolTo(proxy.url);
    const store = await PostgresAuditStore.open({
      pool: viaProxy,
      tablePrefix: prefix,
      outboxDirectory: directory('flap-closed'),
      writer: 'flap',
    });
    const before = makeEvent();
    await store.write(before);
    await proxy.down();
    const refused = makeEvent();
    await assert.rejects(store.write(refused), { code: 'ERR_AUDIT_STORE_UNAVAILABLE' });
    await proxy.up();
    const afterwards = makeEvent();
    await store.write(afterwards);
    assert.deepEqual(await idsInPostgres(prefix), [before.id, refused.id, afterwards.id]);
    await store.close();
    await proxy.down();
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'flap' })).ok, true);
  });

  // The background retry is an hour away (and unref'd): a write that waited for it instead of trying
  // itself would never settle and the test would time out; no wall-clock bound is asserted.
  it('fail-closed: during and after an outage each write makes its own attempt, not waiting for the retry timer', {
    timeout: 30_000,
  }, async () => {
    const prefix = tablePrefix();
    const proxy = await startProxy(5432);
    const viaProxy = poolTo(proxy.url);
    const hour = 60 * 60 * 1000;
    const store = await PostgresAuditStore.open({
      pool: viaProxy,
      tablePrefix: prefix,
      outboxDirectory: directory('flap-prompt'),
      writer: 'prompt',
      drainRetryMs: { min: hour, max: hour },
    });
    const before = makeEvent();
    await store.write(before);
    await proxy.down();
    // The first failure schedules the (hour-long) retry; later writes still reject on their own attempt.
    const refused = [makeEvent(), makeEvent(), makeEvent()];
    for (const event of refused) {
      await assert.rejects(store.write(event), { code: 'ERR_AUDIT_STORE_UNAVAILABLE' });
    }
    assert.equal(store.pending, 3);
    await proxy.up();
    const afterwards = makeEvent();
    await store.write(afterwards);
    assert.equal(store.pending, 0);
    assert.deepEqual(
      await idsInPostgres(prefix),
      [before, ...refused, afterwards].map((event) => event.id),
    );
    await store.close();
    await proxy.down();
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: 'prompt' })).ok, true);
  });
});
