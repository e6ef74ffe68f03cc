import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { B3Propagator } from '../../audit/test/fixtures/tracing.ts';
import { tokenRequest } from './fixtures/service-client.ts';
import { BILLING_API, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

const ATTACKER_TRACE = 'deadbeefdeadbeefdeadbeefdeadbeef';

describe('a host that registers another propagator than W3C (B3)', () => {
  let stack: BrokerStack;
  const emit = http.Server.prototype.emit;
  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] }),
    );
    propagation.setGlobalPropagator(new B3Propagator());
    // What HTTP server instrumentation does with the propagator: extract the request's headers and
    // emit 'request' with the host's server span, a child of the caller's context, active.
    http.Server.prototype.emit = function (this: http.Server, event: string, ...args: unknown[]) {
      if (event !== 'request') return Reflect.apply(emit, this, [event, ...args]);
      const request = args[0] as http.IncomingMessage;
      const remote = propagation.extract(context.active(), request.headers);
      const hostSpan = trace.getTracer('host-http').startSpan('POST', { kind: SpanKind.SERVER }, remote);
      return context.with(trace.setSpan(remote, hostSpan), () => Reflect.apply(emit, this, [event, ...args]));
    } as typeof emit;
    stack = await startBrokerStack();
  });
  after(async () => {
    await stack.close();
    http.Server.prototype.emit = emit;
    propagation.disable();
    trace.disable();
    context.disable();
  });

  it('an untrusted client that sends a b3 header (no traceparent) does not choose its audit trace id', async () => {
    const answer = await tokenRequest(
      stack.broker.issuer,
      stack.reporting,
      { grant_type: 'client_credentials', resource: BILLING_API, scope: 'billing:read' },
      { headers: { b3: `${ATTACKER_TRACE}-00f067aa0ba902b7-1` } },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const event = stack.audit.events.at(-1)!;
    assert.match(event.trace_id, /^[0-9a-f]{32}$/);
    assert.notEqual(event.trace_id, ATTACKER_TRACE, 'the caller chose the audit trace id');
    assert.equal(event.parent_span_id, undefined);
  });

  it("an untrusted client that sends B3's multi-header form, which the propagator reads but does not list, does not choose its audit trace id", async () => {
    const answer = await tokenRequest(
      stack.broker.issuer,
      stack.reporting,
      { grant_type: 'client_credentials', resource: BILLING_API, scope: 'billing:read' },
      { headers: { 'x-b3-traceid': ATTACKER_TRACE, 'x-b3-spanid': '00f067aa0ba902b7', 'x-b3-sampled': '1' } },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const event = stack.audit.events.at(-1)!;
    assert.notEqual(event.trace_id, ATTACKER_TRACE, 'the caller chose the audit trace id');
    assert.equal(event.parent_span_id, undefined);
  });

  it('a client that sends no trace context at all still has its request in the host span trace', async () => {
    const answer = await tokenRequest(stack.broker.issuer, stack.reporting, {
      grant_type: 'client_credentials',
      resource: BILLING_API,
      scope: 'billing:read',
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const event = stack.audit.events.at(-1)!;
    assert.ok(event.parent_span_id, 'the host span is the parent');
  });
});
