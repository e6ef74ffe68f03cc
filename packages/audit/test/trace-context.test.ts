import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditEvent, continueTrace, newSpanId } from '../src/index.ts';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const incoming = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;

describe('continueTrace: who may choose the trace an event is filed under', () => {
  it('joins the trace of a trusted upstream hop, naming its span as the parent', () => {
    assert.deepEqual(continueTrace(incoming, true), { traceId: CALLER_TRACE, parentSpanId: CALLER_SPAN });
  });

  it('an untrusted caller naming another trace gets a fresh trace, with its context kept as a link', () => {
    const trace = continueTrace(incoming, false);
    assert.notEqual(trace.traceId, CALLER_TRACE);
    assert.match(trace.traceId, /^[0-9a-f]{32}$/);
    assert.equal(trace.parentSpanId, undefined);
    assert.deepEqual(trace.link, { trace_id: CALLER_TRACE, span_id: CALLER_SPAN });
  });

  for (const invalid of [
    undefined,
    '',
    'garbage',
    `ff-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    `00-${'0'.repeat(32)}-${CALLER_SPAN}-01`,
  ]) {
    it(`starts a fresh trace without a link for an invalid traceparent (${JSON.stringify(invalid)}), trusted or not`, () => {
      for (const trusted of [true, false]) {
        const trace = continueTrace(invalid, trusted);
        assert.match(trace.traceId, /^[0-9a-f]{32}$/);
        assert.equal(trace.link, undefined);
        assert.equal(trace.parentSpanId, undefined);
      }
    });
  }

  it('records the link on the audit event, and only when there is one', () => {
    const base = {
      action: 'tool.invoke' as const,
      component: 'c',
      initiator: { sub: 'bob', tenant: null },
      agent: { id: 'a', client_id: 'a' },
      target: { type: 'tool' as const, name: 't' },
      delegation_mode: 'service_identity',
      scopes: [],
      outcome: 'ok' as const,
      duration_ms: 1,
    };
    const untrusted = continueTrace(incoming, false);
    const linked = auditEvent({ ...base, trace_id: untrusted.traceId, linked_trace: untrusted.link });
    assert.deepEqual(linked.linked_trace, { trace_id: CALLER_TRACE, span_id: CALLER_SPAN });
    assert.equal('linked_trace' in auditEvent({ ...base, trace_id: CALLER_TRACE }), false);
  });
});

describe('newSpanId', () => {
  it('gives valid, distinct span ids across many refills of its random pool (never reuses bytes)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const id = newSpanId();
      assert.match(id, /^[0-9a-f]{16}$/);
      assert.notEqual(id, '0000000000000000');
      ids.add(id);
    }
    assert.equal(ids.size, 5000);
  });
});
