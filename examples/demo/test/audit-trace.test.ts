import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { auditCommand, traceTree } from '@baton/cli';
import { obtainUserAccessToken } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type DemoTopology, startTopology } from '../src/topology.ts';

describe('a three-hop demo trace, reconstructed from the audit', () => {
  let demo: DemoTopology;
  const audit = new MemoryAuditSink();
  let traceId: string;

  before(async () => {
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
    const { access_token } = await obtainUserAccessToken(demo.idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: demo.urls.ordersMcp,
      scope: 'orders:read billing:read',
    });
    const client = new Client({ name: 'agent', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(demo.urls.ordersMcp), {
        authProvider: { token: async () => access_token },
      }),
    );
    await client.callTool({ name: 'order_summary', arguments: {} });
    await client.close();
    traceId = audit.events.find((event) => event.target.name === 'order_summary')!.trace_id;
  });
  after(() => demo.close());

  it('is one tree: user → agent → orders MCP → (orders API, billing MCP → broker, billing API)', async () => {
    const events = await audit.query({ traceId });
    const [root, ...others] = traceTree(events);
    assert.equal(others.length, 0, 'a single root');
    assert.equal(root!.event.target.name, 'order_summary');
    const shape = (node: typeof root): unknown => ({
      at: node!.event.component,
      what: `${node!.event.action} ${node!.event.target.name}`,
      children: node!.children.map(shape),
    });
    assert.deepEqual(shape(root), {
      at: demo.urls.ordersMcp,
      what: 'tool.invoke order_summary',
      children: [
        {
          at: demo.urls.ordersMcp,
          what: 'api.call orders-api',
          children: [{ at: demo.urls.ordersApi, what: 'api.call GET /api/orders', children: [] }],
        },
        {
          at: demo.urls.ordersMcp,
          what: 'api.call billing-mcp',
          children: [
            { at: demo.broker.broker.issuer, what: `token.exchange ${demo.urls.billingMcp}`, children: [] },
            {
              at: demo.urls.billingMcp,
              what: 'tool.invoke list_invoices',
              children: [
                {
                  at: demo.urls.billingMcp,
                  what: 'api.call billing-api',
                  children: [
                    {
                      at: demo.broker.broker.issuer,
                      what: `token.exchange ${demo.urls.billingApi}`,
                      children: [],
                    },
                    { at: demo.urls.billingApi, what: 'api.call GET /api/invoices', children: [] },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('prints the tree and lists and exports actions from the command line', async () => {
    const tree = await auditCommand(['trace', traceId], audit);
    assert.match(tree, new RegExp(`^trace ${traceId}\\nuser  user-alice \\(tenant acme\\)\\nagent `));
    assert.match(tree, /└─ tool order_summary at .*\n {3}├─ call orders-api/);
    assert.match(
      tree,
      /token exchange → http:\/\/127\.0\.0\.1:\d+\/api at .*\[on_behalf_of\] {2}ok .*chain billing-mcp > orders-mcp > /,
    );
    const listed = await auditCommand(['list', '--user', 'user-alice', '--tool', 'list_invoices'], audit);
    assert.equal(listed.trim().split('\n').length, 1);
    assert.match(listed, /tool\.invoke +list_invoices +user=user-alice/);
    const exported = await auditCommand(['export', '--outcome', 'ok'], audit);
    const lines = exported
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { outcome: string });
    assert.ok(lines.length >= 8 && lines.every((line) => line.outcome === 'ok'));
    await assert.rejects(auditCommand(['list', '--outcome', 'maybe'], audit), /--outcome must be/);
  });
});
