import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalJson } from '../src/canonical-json.ts';
import { GENESIS_HASH } from '../src/chain-hash.ts';
import { MAX_INDEXED_FIELD_BYTES } from '../src/event-validation.ts';
import { AuditStoreError, FileAuditStore, PostgresAuditStore } from '../src/index.ts';
import { insertBatch } from '../src/postgres/insert-batch.ts';
import { OutboxDrain } from '../src/postgres/outbox-drain.ts';
import { auditTables, migrate } from '../src/postgres/schema.ts';
import { makeEvent } from './helpers/events.ts';
import { readLines } from './helpers/log-lines.ts';
import { postgresTestRun } from './helpers/postgres.ts';

const { pool, unreachable, tablePrefix, directory } = postgresTestRun('big');

const idsInPostgres = async (prefix: string) =>
  (await pool.query(`SELECT id FROM ${prefix}audit_events ORDER BY seq`)).rows.map((row) => row.id as string);

/** `bytes` of text PostgreSQL cannot compress (so an index entry really is that large). */
const incompressible = (bytes: number) => randomBytes(bytes).toString('base64url').slice(0, bytes);

const isInvalid = (error: unknown) => {
  assert.ok(error instanceof AuditStoreError);
  assert.equal(error.code, 'ERR_AUDIT_EVENT_INVALID');
  return true;
};

describe('events too large for a PostgreSQL index entry', () => {
  it('a 5000-character target.name is refused at write(); the store keeps taking normal events into PostgreSQL', async () => {
    const prefix = tablePrefix();
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: directory('big-pg'),
      writer: 'big',
    });
    const first = makeEvent();
    await store.write(first);
    const oversized = makeEvent({ target: { type: 'tool', name: 'x'.repeat(5000) } });
    await assert.rejects(store.write(oversized), isInvalid);
    const incompressibleName = makeEvent({ target: { type: 'tool', name: incompressible(5000) } });
    await assert.rejects(store.write(incompressibleName), isInvalid);
    // Multi-byte: under the limit in UTF-16 code units, over it in UTF-8 bytes.
    const wide = makeEvent({
      initiator: { sub: 'é'.repeat(MAX_INDEXED_FIELD_BYTES / 2 + 1), tenant: 'acme' },
    });
    await assert.rejects(store.write(wide), isInvalid);
    // Nothing of them entered the outbox.
    const outboxIds = readLines(store.outboxPath).flatMap((line) => (line.event ? [line.event.id] : []));
    assert.deepEqual(outboxIds, [first.id]);
    assert.equal(store.pending, 0);

    const later = [makeEvent(), makeEvent()];
    for (const event of later) await store.write(event);
    assert.equal(store.pending, 0);
    assert.deepEqual(
      await idsInPostgres(prefix),
      [first, ...later].map((event) => event.id),
    );
    await store.close();
  });

  it('every indexed field at the limit, incompressible, still goes into PostgreSQL', async () => {
    const prefix = tablePrefix();
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: directory('big-limit'),
      writer: 'limit',
    });
    const n = MAX_INDEXED_FIELD_BYTES;
    const event = makeEvent({
      id: incompressible(n),
      time: incompressible(n),
      trace_id: incompressible(n),
      initiator: { sub: incompressible(n), tenant: 'acme' },
      agent: { id: 'agent-1', client_id: incompressible(n) },
      target: { type: 'tool', name: incompressible(n) },
    });
    await store.write({ ...event, outcome: incompressible(n) as never });
    assert.deepEqual(await idsInPostgres(prefix), [event.id]);
    await assert.rejects(store.write(makeEvent({ trace_id: incompressible(n + 1) })), isInvalid);
    await store.close();
  });

  it('the file store refuses the same event (both stores accept exactly the same events)', async () => {
    const store = await FileAuditStore.open({ directory: directory('big-file'), writer: 'big' });
    await assert.rejects(
      store.write(makeEvent({ target: { type: 'tool', name: 'x'.repeat(5000) } })),
      isInvalid,
    );
    await store.write(makeEvent());
    await store.close();
  });
});

describe('insert failures PostgreSQL will repeat forever are not "unavailable"', () => {
  it('an index row over the btree maximum (SQLSTATE 54000) stops draining with ERR_AUDIT_STORE_REJECTED, no retry', async () => {
    const prefix = tablePrefix();
    const tables = auditTables(prefix);
    await migrate(pool, tables);
    let inserts = 0;
    const drain = new OutboxDrain(
      {
        prepare: async () => {},
        insert: (rows, checkpoints) => {
          inserts++;
          return insertBatch(pool, tables, 'raw', rows, checkpoints);
        },
        drained: async () => {},
      },
      0,
      { min: 1, max: 1 },
    );
    // Bypasses validateEvent, as an outbox written before the length check could.
    const event = { ...makeEvent(), target: { type: 'tool', name: incompressible(5000) } };
    drain.add({
      kind: 'record',
      durable: true,
      record: { seq: 1, prev: GENESIS_HASH, hash: 'a'.repeat(64), event },
      eventJson: canonicalJson(event),
    });
    await assert.rejects(drain.drainNow(), (error: AuditStoreError) => {
      assert.equal(error.code, 'ERR_AUDIT_STORE_REJECTED');
      assert.equal((error.cause as { code?: string }).code, '54000');
      return true;
    });
    assert.equal(drain.fatal?.code, 'ERR_AUDIT_STORE_REJECTED');
    await assert.rejects(drain.waitFor(1), { code: 'ERR_AUDIT_STORE_REJECTED' });
    drain.kick(true);
    // A retry (1 ms backoff) would have run by now; none is scheduled once the failure is permanent.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(inserts, 1);
    await drain.stop();
  });

  it('a connection failure stays ERR_AUDIT_STORE_UNAVAILABLE and does not stop draining', async () => {
    const tables = auditTables(tablePrefix());
    const drain = new OutboxDrain(
      {
        prepare: async () => {},
        insert: (rows, checkpoints) => insertBatch(unreachable, tables, 'raw', rows, checkpoints),
        drained: async () => {},
      },
      0,
    );
    const event: Record<string, unknown> = { ...makeEvent() };
    drain.add({
      kind: 'record',
      durable: true,
      record: { seq: 1, prev: GENESIS_HASH, hash: 'a'.repeat(64), event },
      eventJson: canonicalJson(event),
    });
    await assert.rejects(drain.drainNow(), { code: 'ERR_AUDIT_STORE_UNAVAILABLE' });
    assert.equal(drain.fatal, undefined);
    await drain.stop();
  });
});
