import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import { obtainUserAccessToken } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { installTestTracing } from '../../../packages/audit/test/fixtures/tracing.ts';
import { type DemoTopology, startTopology } from '../src/topology.ts';

/**
 * The demo's three-hop call (agent → orders MCP → billing MCP → billing API, with broker exchanges in
 * between), made by the official SDK client without any `traceparent`, as every real MCP client does:
 * OpenTelemetry and the audit must tell the same story, as one trace.
 */
describe('OpenTelemetry across every hop of the demo is one trace, and agrees with the audit', () => {
  let tracing: ReturnType<typeof installTestTracing>;
  const audit = new MemoryAuditSink();
  let demo: DemoTopology;
  let accessToken: string;
  let spans: ReadableSpan[];
  let events: AuditEvent[];

  before(async () => {
    tracing = installTestTracing();
    demo = await startTopology(
      {
        host: '127.0.0.1',
        idpPort: 0,
        ordersMcpPort: 0,
        billingMcpPort: 0,
        ordersApiPort: 0,
        billingApiPort: 0,
        brokerPort: 0,
      },
      { audit },
    );
    ({ access_token: accessToken } = await obtainUserAccessToken(demo.idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: demo.urls.ordersMcp,
      scope: 'orders:read billing:read',
    }));
    tracing.exporter.reset();
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(demo.urls.ordersMcp), {
        authProvider: { token: async () => accessToken },
      }),
    );
    await client.callTool({ name: 'order_summary', arguments: {} });
    await client.close();
    const traceId = audit.events.find((event) => event.target.name === 'order_summary')!.trace_id;
    events = audit.events.filter((event) => event.trace_id === traceId);
    spans = tracing.exporter.getFinishedSpans();
  });
  after(async () => {
    await demo.close();
    tracing.uninstall();
  });

  it('every span of the call is in the one trace the audit names', () => {
    // Except the orders MCP server's own service-identity token: shared by every caller, its request is
    // the server's own (a trace of its own, in OpenTelemetry and in the audit alike).
    const own = spans.filter((span) => span.attributes['baton.oauth.grant_type'] === 'client_credentials');
    assert.equal(own.length, 1);
    assert.ok(audit.events.some((event) => event.span_id === own[0]!.spanContext().spanId));
    const traceIds = new Set(
      spans.filter((span) => !own.includes(span)).map((span) => span.spanContext().traceId),
    );
    assert.deepEqual([...traceIds], [events[0]!.trace_id]);
    const names = spans.map((span) => span.name);
    for (const expected of ['tools/call order_summary', 'tools/call list_invoices', 'POST /token', 'verify'])
      assert.ok(names.includes(expected), `a ${expected} span (${names.join(', ')})`);
  });

  it('every audit event of the trace has its span: same span id, same parent', () => {
    // MCP boundary → downstream call → broker exchange → next boundary → API verifier: all of them.
    assert.ok(events.length >= 9, `the whole chain is audited (${events.length} events)`);
    const bySpanId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    for (const event of events) {
      const span = bySpanId.get(event.span_id!);
      assert.ok(span, `${event.action} ${event.target.name} at ${event.component} has a span`);
      assert.equal(
        span.parentSpanContext?.spanId,
        event.parent_span_id,
        `${event.action} ${event.target.name}`,
      );
      if (span.attributes['baton.delegation.mode'] !== undefined)
        assert.equal(span.attributes['baton.delegation.mode'], event.delegation_mode, `${span.name}`);
    }
  });

  it("no span carries the person's token or any token a hop obtained", () => {
    const exported = JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes })));
    assert.equal(exported.includes(accessToken), false);
    // Any JWT at all (header.payload.signature): none belongs in a span.
    assert.doesNotMatch(exported, /eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });
});
