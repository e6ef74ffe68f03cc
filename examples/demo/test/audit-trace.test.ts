import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditReader, AuditSink } from '@baton/audit';
import { auditTables, FileAuditStore, PostgresAuditStore } from '@baton/audit-store';
import { auditCommand, traceTree } from '@baton/cli';
import { obtainUserAccessToken } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pg from 'pg';
import { type DemoTopology, startTopology } from '../src/topology.ts';

/** The stores the trace must reconstruct from: the embedded file store and PostgreSQL (behind its outbox). */
const STORES: Array<[string, () => Promise<AuditSink & AuditReader & { close(): Promise<void> }>]> = [
  [
    'embedded file store',
    async () => {
      const directory = mkdtempSync(join(tmpdir(), 'baton-audit-trace-'));
      const store = await FileAuditStore.open({ directory, writer: 'demo' });
      return Object.assign(store, {
        close: async () => {
          await FileAuditStore.prototype.close.call(store);
          rmSync(directory, { recursive: true, force: true });
        },
      });
    },
  ],
  [
    'PostgreSQL store',
    async () => {
      const outboxDirectory = mkdtempSync(join(tmpdir(), 'baton-audit-outbox-'));
      const pool = new pg.Pool({
        connectionString: process.env.BATON_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      });
      const tablePrefix = `t${randomBytes(5).toString('hex')}_`;
      const store = await PostgresAuditStore.open({ pool, outboxDirectory, writer: 'demo', tablePrefix });
      return Object.assign(store, {
        close: async () => {
          await PostgresAuditStore.prototype.close.call(store);
          for (const table of Object.values(auditTables(tablePrefix)))
            await pool.query(`DROP TABLE IF EXISTS ${table}`);
          await pool.end();
          rmSync(outboxDirectory, { recursive: true, force: true });
        },
      });
    },
  ],
];

for (const [storeName, openStore] of STORES)
  describe(`a three-hop demo trace, reconstructed from the ${storeName}`, () => {
    let demo: DemoTopology;
    let audit: AuditSink & AuditReader & { close(): Promise<void> };
    let traceId: string;

    before(async () => {
      audit = await openStore();
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
      traceId = (await audit.query({ target: 'order_summary' }))[0]!.trace_id;
    });
    after(async () => {
      await demo.close();
      await audit.close();
    });

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
              { at: demo.broker.issuer, what: `token.exchange ${demo.urls.billingMcp}`, children: [] },
              {
                at: demo.urls.billingMcp,
                what: 'tool.invoke list_invoices',
                children: [
                  {
                    at: demo.urls.billingMcp,
                    what: 'api.call billing-api',
                    children: [
                      {
                        at: demo.broker.issuer,
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
        /token exchange → https?:\/\/127\.0\.0\.1:\d+\/api at .*\[on_behalf_of\] {2}ok .*chain billing-mcp > orders-mcp > /,
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
