import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AuditEvent,
  type AuditQuery,
  type AuditReader,
  type AuditSink,
  MemoryAuditSink,
} from '@baton/audit';
import { makeEvent } from './events.ts';

export interface StoreUnderTest {
  store: AuditSink & AuditReader;
  close(): Promise<void>;
}

/**
 * The same sink/reader contract for every store: what is written is read back, each `AuditQuery` field
 * narrows exactly as `matchesQuery` says, results are oldest first, `limit` keeps the newest.
 */
export function sinkReaderConformance(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`${name}: AuditSink + AuditReader conformance`, () => {
    let subject: StoreUnderTest;
    const memory = new MemoryAuditSink();
    const events: AuditEvent[] = [];
    const users = ['alice', 'bob', 'carol'];
    const agents = ['client-1', 'client-2'];
    const targets = ['orders.list', 'orders.cancel', 'https://api.example'];
    const outcomes = ['ok', 'denied', 'error'] as const;

    before(async () => {
      subject = await open();
      for (let i = 0; i < 30; i++) {
        events.push(
          makeEvent({
            time: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString(),
            trace_id: `trace-${i % 5}`,
            initiator: { sub: users[i % 3]!, tenant: 'acme' },
            agent: { id: `agent-${i % 2}`, client_id: agents[i % 2]! },
            target: { type: 'tool', name: targets[i % 3]! },
            outcome: outcomes[Math.floor(i / 3) % 3]!,
            ...(i % 4 === 0 ? { reason: 'scope_insufficient', chain: ['agent-a', 'agent-b'] } : {}),
          }),
        );
      }
      // Written concurrently: the stores must keep each one, whatever the interleaving.
      await Promise.all(events.map((event) => subject.store.write(event)));
      for (const event of events) await memory.write(event);
    });
    after(async () => {
      await subject.close();
    });

    const queries: Array<[string, AuditQuery]> = [
      ['everything', {}],
      ['by trace', { traceId: 'trace-3' }],
      ['by user', { user: 'bob' }],
      ['by agent', { agent: 'client-2' }],
      ['by target', { target: 'orders.cancel' }],
      ['by outcome', { outcome: 'denied' }],
      ['since', { since: '2026-01-01T12:00:20.000Z' }],
      ['until', { until: '2026-01-01T12:00:04.000Z' }],
      ['time range', { since: '2026-01-01T12:00:10.000Z', until: '2026-01-01T12:00:14.000Z' }],
      ['limit (newest, oldest first)', { limit: 4 }],
      ['combined', { user: 'alice', agent: 'client-1', outcome: 'ok' }],
      ['combined with limit', { traceId: 'trace-0', limit: 2 }],
      ['nothing matches', { user: 'nobody' }],
      ['limit 0', { limit: 0 }],
      ['by several traces', { traceIds: ['trace-1', 'trace-4', 'trace-absent'] }],
      ['by several traces and a user', { traceIds: ['trace-1', 'trace-4'], user: 'alice' }],
      ['by an empty list of traces', { traceIds: [] }],
    ];
    for (const [label, query] of queries) {
      it(`query ${label} selects what matchesQuery selects`, async () => {
        const expected = query.limit === 0 ? [] : await memory.query(query);
        assert.deepEqual(await subject.store.query(query), expected);
      });
    }

    it('reads back every field of every event, unchanged', async () => {
      const all = await subject.store.query({});
      assert.equal(all.length, events.length);
      assert.deepEqual(all, events);
      assert.deepEqual(all[0]!.chain, ['agent-a', 'agent-b']);
    });

    it('orders by time, oldest first, even when written out of order', async () => {
      const late = makeEvent({ time: '2026-01-01T11:59:59.000Z', trace_id: 'trace-early' });
      await subject.store.write(late);
      const all = await subject.store.query({});
      assert.equal(all[0]!.id, late.id);
      assert.deepEqual(
        (await subject.store.query({ traceId: 'trace-early' })).map((event) => event.id),
        [late.id],
      );
    });

    it('rejects a query it cannot answer like every other store', async () => {
      await assert.rejects(subject.store.query({ limit: -1 }), TypeError);
      await assert.rejects(subject.store.query({ user: 42 as unknown as string }), TypeError);
      await assert.rejects(subject.store.query({ traceIds: 'trace-1' as unknown as string[] }), TypeError);
    });
  });
}
