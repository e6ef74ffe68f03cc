import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import { obtainUserAccessToken } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { installTestTracing } from '../../../packages/audit/test/fixtures/tracing.ts';
import { type DemoTopology, startTopology } from '../src/topology.ts';

/** Every hop's audit, except that the downstream-call records of the component at `failing` fail. */
class FlakyAuditSink extends MemoryAuditSink {
  failing: string | undefined;
  override async write(event: AuditEvent): Promise<void> {
    if (this.failing && event.action === 'api.call' && event.component.startsWith(this.failing)) {
      throw new Error('audit store down');
    }
    return super.write(event);
  }
}

describe('a downstream call whose audit record cannot be written', () => {
  let tracing: ReturnType<typeof installTestTracing>;
  const audit = new FlakyAuditSink();
  let demo: DemoTopology;
  let accessToken: string;

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
      scope: 'orders:read',
    }));
  });
  after(async () => {
    await demo.close();
    tracing.uninstall();
  });

  it('still ends the call span with its outcome when the audit store is down (no span left open)', async () => {
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(demo.urls.ordersMcp), {
        authProvider: { token: async () => accessToken },
      }),
    );
    tracing.exporter.reset();
    // The orders MCP server's own records of its downstream calls (the API's own audit still works).
    audit.failing = new URL(demo.urls.ordersMcp).origin;
    try {
      const result = (await client.callTool({ name: 'list_orders', arguments: {} })) as { isError?: boolean };
      assert.equal(result.isError, true, 'the tool does not succeed without its audit record');
    } finally {
      audit.failing = undefined;
      await client.close();
    }
    const call = tracing.exporter.getFinishedSpans().find((span) => span.name === 'call orders-api');
    assert.ok(call, 'the downstream call span was never ended');
    assert.equal(call.attributes['baton.outcome'], 'ok');
  });
});
