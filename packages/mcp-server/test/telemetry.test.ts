import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { context, propagation, trace } from '@opentelemetry/api';
import {
  assertNoSecretInSpans,
  assertSameHop,
  B3Propagator,
  installTestTracing,
} from '../../audit/test/fixtures/tracing.ts';
import { buildOrdersServer } from './fixtures/orders.ts';
import { refusalProbe } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

/** Connects the official SDK client with `token`, sending `headers` on every request. */
async function connect(stack: Stack, token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'otel-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => token },
      requestInit: { headers },
    }),
  );
  return client;
}

describe('OpenTelemetry spans agree with the audit, and carry identity, never a token', () => {
  let tracing: ReturnType<typeof installTestTracing>;
  let stack: Stack;
  const tokens: string[] = [];
  before(async () => {
    tracing = installTestTracing();
    stack = await startStack();
  });
  // No span attribute, name or status anywhere holds a token the test used.
  afterEach(() => assertNoSecretInSpans(tracing.exporter, tokens));
  after(async () => {
    await stack.close();
    tracing.uninstall();
  });
  const toolSpan = () =>
    tracing.exporter.getFinishedSpans().find((candidate) => candidate.name === 'tools/call list_orders');

  it('one server span per tool call, in the caller trace, with the audit span id', async () => {
    // An upstream Baton hop (a token the broker exchanged, naming the chain): its trace is continued.
    const probe = await refusalProbe(stack);
    const token = await probe.forge(
      probe.claims({ client_id: 'orders-mcp', act: { sub: 'orders-mcp', act: { sub: 'agent-1' } } }),
    );
    tokens.push(token);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const client = await connect(stack, token, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const span = toolSpan();
    assert.ok(span, 'a span was exported');
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, 'b7ad6b7169203331');
    assert.equal(span.attributes['enduser.id'], 'user-alice');
    assert.equal(span.attributes['baton.actor.tenant'], 'acme');
    assert.equal(span.attributes['mcp.method.name'], 'tools/call');
    assert.equal(span.attributes['gen_ai.tool.name'], 'list_orders');
    assert.equal(span.attributes['baton.outcome'], 'ok');
    const event = stack.audit.events.at(-1)!;
    assertSameHop(span, event);
    assert.equal(span.attributes['baton.delegation.mode'], event.delegation_mode);
  });

  it('a client that sends no traceparent (every real MCP client) gets one trace id in the span, the envelope and the audit', async () => {
    const token = await stack.tokenFor('alice');
    tokens.push(token);
    const client = await connect(stack, token);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const span = toolSpan();
    assert.ok(span);
    assert.equal(span.parentSpanContext, undefined, 'a fresh trace: the tool span is its root');
    const event = stack.audit.events.at(-1)!;
    assertSameHop(span, event);
    assert.equal(stack.observed.at(-1)!.identity.session.trace_id, span.spanContext().traceId);
  });

  it('the tool span is active inside the handler, so its own spans are children of it', async () => {
    const token = await stack.tokenFor('alice');
    const client = await connect(stack, token);
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.equal(stack.observed.at(-1)!.activeSpanId, toolSpan()!.spanContext().spanId);
  });

  it("a caller that injects another person's trace id gets a fresh trace linked to it, in the span and the audit alike", async () => {
    const token = await stack.tokenFor('alice');
    const injected = '4bf92f3577b34da6a3ce929d0e0e4736';
    const client = await connect(stack, token, { traceparent: `00-${injected}-00f067aa0ba902b7-01` });
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    const span = toolSpan();
    assert.ok(span);
    assert.notEqual(span.spanContext().traceId, injected);
    assert.deepEqual(
      span.links.map((link) => link.context.traceId),
      [injected],
    );
    const event = stack.audit.events.at(-1)!;
    assertSameHop(span, event);
    assert.deepEqual(event.linked_trace, { trace_id: injected, span_id: '00f067aa0ba902b7' });
  });

  it('a step-up denial (missing scope) is a span with status error and the audit reason code', async () => {
    const token = await stack.tokenFor('alice', 'orders:read');
    tokens.push(token);
    const client = await connect(stack, token);
    await assert.rejects(client.callTool({ name: 'create_order', arguments: { item: 'rope' } }));
    await client.close().catch(() => undefined);
    const span = tracing.exporter
      .getFinishedSpans()
      .find((candidate) => candidate.name === 'tools/call create_order');
    assert.ok(span, 'the denial has a span');
    assert.equal(span.status.code, 2 /* SpanStatusCode.ERROR */);
    const event = stack.audit.events.at(-1)!;
    assert.equal(event.outcome, 'denied');
    assert.equal(span.attributes['baton.reason'], event.reason);
    assert.equal(span.attributes['baton.reason'], 'scope_insufficient');
    assert.equal(span.attributes['error.type'], 'scope_insufficient');
    assertSameHop(span, event);
  });

  it('a refused token (forged signature) is a span with status error and the refusal reason, never the token', async () => {
    const probe = await refusalProbe(stack);
    const forged = `${(await probe.forge()).slice(0, -4)}AAAA`;
    tokens.push(forged);
    const answer = await probe.call(`Bearer ${forged}`);
    assert.equal(answer.status, 401);
    const span = tracing.exporter.getFinishedSpans().find((candidate) => candidate.name === 'authenticate');
    assert.ok(span, 'the refusal has a span');
    assert.equal(span.status.code, 2 /* SpanStatusCode.ERROR */);
    assert.equal(span.attributes['baton.reason'], answer.reason);
    assert.equal(span.attributes['http.response.status_code'], 401);
  });

  it("the host's own HTTP server span is the tool span's parent when the caller sent no trace context, and never when it sent one", async () => {
    // As HTTP instrumentation would: the host's server span is active while the boundary serves.
    const protectedMcp = stack.boundary.protect(
      createMcpHandler(() => buildOrdersServer(stack.boundary, [])),
    );
    const token = await stack.tokenFor('alice');
    const serveUnder = (request: Request) =>
      trace.getTracer('host-http').startActiveSpan('POST /mcp', async (httpSpan) => {
        try {
          const response = await protectedMcp.fetch(request);
          await response.text();
          return httpSpan.spanContext();
        } finally {
          httpSpan.end();
        }
      });

    const host = await serveUnder(toolCallRequest(stack.resource, token, 'list_orders'));
    let span = toolSpan();
    assert.ok(span);
    assert.equal(span.spanContext().traceId, host.traceId);
    assert.equal(span.parentSpanContext?.spanId, host.spanId);
    assertSameHop(span, stack.audit.events.at(-1)!);
    tracing.exporter.reset();

    // A caller-chosen trace context: the host's span may have continued it, so the tool span does not.
    const injected = toolCallRequest(stack.resource, token, 'list_orders');
    injected.headers.set('traceparent', `00-${'4'.repeat(32)}-${'5'.repeat(16)}-01`);
    const hostOfInjected = await serveUnder(injected);
    span = toolSpan();
    assert.ok(span);
    assert.equal(span.parentSpanContext, undefined);
    assert.notEqual(span.spanContext().traceId, hostOfInjected.traceId);
    assertSameHop(span, stack.audit.events.at(-1)!);
  });

  it('a caller that picks the trace through a B3 header (no traceparent) never has the tool span or the audit join it', async () => {
    propagation.setGlobalPropagator(new B3Propagator());
    try {
      const protectedMcp = stack.boundary.protect(
        createMcpHandler(() => buildOrdersServer(stack.boundary, [])),
      );
      const token = await stack.tokenFor('alice');
      const attackerTrace = 'deadbeef'.repeat(4);
      const request = toolCallRequest(stack.resource, token, 'list_orders');
      request.headers.set('b3', `${attackerTrace}-00f067aa0ba902b7-1`);
      // As HTTP instrumentation would with B3 configured: the host's server span continues the caller's.
      const remote = propagation.extract(context.active(), request.headers, {
        get: (headers, key) => headers.get(key) ?? undefined,
        keys: (headers) => [...headers.keys()],
      });
      const host = await context.with(remote, () =>
        trace.getTracer('host-http').startActiveSpan('POST /mcp', async (httpSpan) => {
          try {
            const response = await protectedMcp.fetch(request);
            await response.text();
            return httpSpan.spanContext();
          } finally {
            httpSpan.end();
          }
        }),
      );
      assert.equal(host.traceId, attackerTrace, 'the host span is in the trace the caller chose');
      const span = toolSpan();
      assert.ok(span);
      assert.equal(span.parentSpanContext, undefined);
      assert.deepEqual(
        span.links.map((link) => link.context.spanId),
        [host.spanId],
        "the root links to the host's span, not joins it",
      );
      const event = stack.audit.events.at(-1)!;
      assert.notEqual(event.trace_id, attackerTrace, 'the caller chose the audit trace id');
      assertSameHop(span, event);
    } finally {
      propagation.disable();
    }
  });
});
