import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { refusalProbe } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

describe('OpenTelemetry spans carry identity, never a token', () => {
  const exporter = new InMemorySpanExporter();
  let stack: Stack;
  before(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
    trace.disable();
  });

  it('one server span per tool call, in the caller trace, with the audit span id', async () => {
    // An upstream Baton hop (a token the broker exchanged, naming the chain): its trace is continued.
    const probe = await refusalProbe(stack);
    const token = await probe.forge(
      probe.claims({ client_id: 'orders-mcp', act: { sub: 'orders-mcp', act: { sub: 'agent-1' } } }),
    );
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const client = new Client({ name: 'otel-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
        requestInit: { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } },
      }),
    );
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'tool list_orders');
    assert.ok(span, 'a span was exported');
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, 'b7ad6b7169203331');
    assert.equal(span.attributes['enduser.id'], 'user-alice');
    assert.equal(span.attributes['baton.actor.tenant'], 'acme');
    assert.equal(span.attributes['mcp.tool.name'], 'list_orders');
    assert.equal(span.attributes['baton.outcome'], 'ok');
    const event = stack.audit.events.at(-1)!;
    assert.equal(
      event.span_id,
      span.spanContext().spanId,
      'the audit and the tracing backend share span ids',
    );
    assert.equal(
      JSON.stringify(exporter.getFinishedSpans().map((finished) => finished.attributes)).includes(token),
      false,
    );
  });
});
