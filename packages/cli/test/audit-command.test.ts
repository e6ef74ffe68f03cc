import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditEvent, auditEvent, MemoryAuditSink } from '@baton/audit';
import { auditCommand, queryFrom, renderTraceTree, traceTree } from '../src/index.ts';

// A zone other than UTC, so a time read as local would show up as a different instant.
process.env.TZ = 'America/New_York';

function hop(target: string, span: string, parent: string | undefined, time: string): AuditEvent {
  return {
    ...auditEvent({
      action: 'tool.invoke',
      component: 'http://127.0.0.1:4001/mcp',
      trace_id: 'trace-cli',
      initiator: { sub: 'alice', tenant: 'acme' },
      agent: { id: 'agent-1', client_id: 'agent-1' },
      target: { type: 'tool', name: target },
      delegation_mode: 'on_behalf_of',
      scopes: ['orders:read'],
      outcome: 'ok',
      duration_ms: 1,
      span_id: span,
      ...(parent ? { parent_span_id: parent } : {}),
    }),
    time,
  };
}

describe('baton audit', () => {
  it('reads --since and --until without a zone as UTC, as the console does', () => {
    assert.deepEqual(queryFrom({ since: '2026-05-01T09:30', until: '2026-05-01' }), {
      since: '2026-05-01T09:30:00.000Z',
      until: '2026-05-01T00:00:00.000Z',
    });
    assert.equal(queryFrom({ since: '2026-05-01T09:30:00+02:00' }).since, '2026-05-01T07:30:00.000Z');
  });

  it('refuses a time it cannot read, and an option it does not have', async () => {
    assert.throws(() => queryFrom({ since: 'yesterday' }), /--since must be a date and time/);
    await assert.rejects(auditCommand(['list', '--outbox', '/tmp/x'], new MemoryAuditSink()), /outbox/);
  });

  it('draws every event of a trace once, even events whose span links form a cycle', () => {
    const root = hop('order_summary', 'aaaaaaaaaaaaaaaa', undefined, '2026-05-01T09:30:03.000Z');
    const child = hop('list_invoices', 'bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa', '2026-05-01T09:30:02.000Z');
    // Corrupt or hostile links: two events naming each other as parent.
    const loopA = hop('loop_a', 'cccccccccccccccc', 'dddddddddddddddd', '2026-05-01T09:30:00.000Z');
    const loopB = hop('loop_b', 'dddddddddddddddd', 'cccccccccccccccc', '2026-05-01T09:30:01.000Z');
    const events = [root, child, loopA, loopB];
    const seen: string[] = [];
    const walk = (nodes: ReturnType<typeof traceTree>) => {
      for (const node of nodes) {
        seen.push(node.event.target.name);
        walk(node.children);
      }
    };
    const tree = traceTree(events);
    walk(tree);
    assert.deepEqual([...seen].sort(), ['list_invoices', 'loop_a', 'loop_b', 'order_summary']);
    const summary = tree.find((node) => node.event === root)!;
    assert.deepEqual(
      summary.children.map((node) => node.event.target.name),
      ['list_invoices'],
    );
    const drawn = renderTraceTree(events);
    for (const name of ['order_summary', 'list_invoices', 'loop_a', 'loop_b'])
      assert.match(drawn, new RegExp(name));
  });
});
