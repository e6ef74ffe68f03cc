import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { auditEvent, createLogger, fanOut, LogAuditSink, MemoryAuditSink } from '../src/index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { lines, destination };
}

const event = () =>
  auditEvent({
    action: 'tool.invoke',
    component: 'https://orders.example/mcp',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    initiator: { sub: 'user-alice', tenant: 'acme' },
    agent: { id: 'agent-1', client_id: 'agent-1' },
    target: { type: 'tool', name: 'list_orders' },
    delegation_mode: 'service_identity',
    scopes: ['orders:read'],
    outcome: 'ok',
    duration_ms: 1.5,
  });

describe('audit log sink', () => {
  it('writes one JSON line per event with user and agent as separate fields', async () => {
    const { lines, destination } = capture();
    await new LogAuditSink(createLogger({ name: 'test', destination: destination as never })).write(event());
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.audit.initiator.sub, 'user-alice');
    assert.equal(line.audit.agent.client_id, 'agent-1');
    assert.match(line.audit.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(line.audit.time)));
  });

  it('redacts token-like fields a careless caller adds to a log object', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ name: 'test', destination: destination as never });
    logger.info({
      token: 'secret-1',
      headers: { authorization: 'Bearer secret-2' },
      nested: { access_token: 'secret-3' },
    });
    assert.equal(/secret-[123]/.test(lines.join('')), false);
  });

  it('fans out to every sink and rejects if any one fails, after trying all', async () => {
    const memory = new MemoryAuditSink();
    const failing = { write: async () => Promise.reject(new Error('down')) };
    await assert.rejects(fanOut(failing, memory).write(event()), /down/);
    assert.equal(memory.events.length, 1);
  });

  it('MemoryAuditSink answers queries in time order, as every reader does, whatever the write order', async () => {
    const memory = new MemoryAuditSink();
    const late = { ...event(), time: '2026-01-01T12:00:02.000Z' };
    const early = { ...event(), time: '2026-01-01T12:00:01.000Z' };
    await memory.write(late);
    await memory.write(early);
    assert.deepEqual(
      (await memory.query({})).map((each) => each.id),
      [early.id, late.id],
    );
    assert.deepEqual(
      (await memory.query({ limit: 1 })).map((each) => each.id),
      [late.id],
    );
  });
});
