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

describe('a trace that mixes two initiators (trace injection)', () => {
  const alice = hop('order_summary', 'aaaaaaaaaaaaaaaa', undefined, '2026-05-01T09:30:03.000Z');
  const bob: AuditEvent = {
    ...hop('create_order', 'bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa', '2026-05-01T09:30:04.000Z'),
    initiator: { sub: 'bob', tenant: 'acme' },
    agent: { id: 'agent-2', client_id: 'agent-2' },
  };

  it('baton audit trace never heads it with one person: a marked line names every initiator, every hop names its own', () => {
    const drawn = renderTraceTree([alice, bob]);
    const [, warning, initiators, agents] = drawn.split('\n');
    assert.match(warning!, /^! MIXED INITIATORS: this is not one person's trace/);
    assert.equal(initiators, 'initiators alice (tenant acme), bob (tenant acme)');
    assert.equal(agents, 'agents agent-1, agent-2');
    assert.doesNotMatch(drawn, /^user {2}/m);
    assert.match(drawn, /tool order_summary .* user alice \(tenant acme\)/);
    assert.match(drawn, /tool create_order .* user bob \(tenant acme\)/);
    // One person's trace keeps its plain header.
    assert.match(
      renderTraceTree([alice]),
      /^trace trace-cli\nuser {2}alice \(tenant acme\)\nagent agent-1\n/,
    );
  });

  it('baton audit list marks every line of a mixed trace, even when only one initiator is listed', async () => {
    const sink = new MemoryAuditSink();
    const alone = {
      ...hop('list_orders', 'cccccccccccccccc', undefined, '2026-05-01T09:31:00.000Z'),
      trace_id: 'trace-alone',
    };
    for (const event of [alice, bob, alone]) await sink.write(event);
    const listed = await auditCommand(['list', '--user', 'alice'], sink);
    const lines = listed.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(
      lines.find((line) => line.includes('order_summary'))!,
      /trace=trace-cli {2}! MIXED-INITIATORS$/,
    );
    assert.doesNotMatch(lines.find((line) => line.includes('list_orders'))!, /MIXED/);
  });

  it('a tool name carrying terminal escape sequences is printed escaped, by trace and by list', async () => {
    const sink = new MemoryAuditSink();
    await sink.write(
      hop(
        'list\u001b[2J\u001b]0;pwned\u0007_orders\u009b',
        'dddddddddddddddd',
        undefined,
        '2026-05-01T09:32:00.000Z',
      ),
    );
    for (const printed of [
      await auditCommand(['trace', 'trace-cli'], sink),
      await auditCommand(['list'], sink),
    ]) {
      const controls = [...printed].filter((char) => {
        const code = char.charCodeAt(0);
        return char !== '\n' && (code < 0x20 || (code >= 0x7f && code <= 0x9f));
      });
      assert.deepEqual(controls, []);
      assert.match(printed, /list\\x1b\[2J\\x1b\]0;pwned\\x07_orders\\x9b/);
    }
  });

  it('shows both identities when a connector mapped the person to a platform user', () => {
    const mapped = { ...alice, platform_subject: 'alice@crm.example' } as AuditEvent;
    assert.match(renderTraceTree([mapped]), /platform-user alice@crm\.example/);
    assert.doesNotMatch(renderTraceTree([alice]), /platform-user/);
  });

  it('names a resource read and a prompt get by their kind', () => {
    const read = {
      ...alice,
      action: 'resource.read',
      target: { type: 'resource', name: 'my-pipeline' },
    } as AuditEvent;
    const get = {
      ...alice,
      action: 'prompt.get',
      target: { type: 'prompt', name: 'review_my_orders' },
    } as AuditEvent;
    assert.match(renderTraceTree([read]), /resource my-pipeline at /);
    assert.match(renderTraceTree([get]), /prompt review_my_orders at /);
  });

  it('shows a caller context kept as a link, not joined', () => {
    const linked = { ...alice, linked_trace: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' } } as AuditEvent;
    assert.match(
      renderTraceTree([linked]),
      /linked-trace 4bf92f3577b34da6a3ce929d0e0e4736 \(caller's context, not joined\)/,
    );
  });

  it('lists and draws a revocation: what was revoked, by whom, how many tokens it covered, why', async () => {
    const sink = new MemoryAuditSink();
    await sink.write(
      auditEvent({
        action: 'revocation',
        component: 'http://127.0.0.1:4010',
        trace_id: 'trace-revocation',
        initiator: { sub: 'ops-admin', tenant: null },
        agent: { id: 'ops-admin', client_id: 'ops-admin' },
        target: { type: 'revocation', name: 'subject:bob' },
        delegation_mode: 'direct',
        scopes: [],
        outcome: 'ok',
        duration_ms: 2,
        chain: ['ops-admin'],
        revocation: { kind: 'subject', covered: 3, note: 'offboarded\u001b[2J' },
      }),
    );
    const listed = await auditCommand(['list'], sink);
    assert.match(listed, /ok +revocation +subject:bob {2}user=ops-admin/);
    assert.match(listed, /covered 3 {2}note "offboarded\\u001b\[2J"/, 'the note is quoted, its escape inert');
    const tree = await auditCommand(['trace', 'trace-revocation'], sink);
    assert.match(tree, /revocation subject:bob {2}covered 3/);
  });
});
