import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { DEMO_USERS, type DemoUser, obtainUserAccessToken } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type DemoTopology, startTopology } from '../src/topology.ts';

const EXTRA: DemoUser[] = ['carol', 'dave'].map((name) => ({
  sub: `user-${name}`,
  username: name,
  password: `${name}-demo-pw`,
  name,
  email: `${name}@acme.example`,
  tenant: 'acme',
  roles: ['buyer'],
  allowedScopes: ['orders:read', 'billing:read'],
}));
const USERS = [DEMO_USERS.alice, ...EXTRA];

describe('on-behalf-of through two MCP servers: tokens cached per person, never shared', () => {
  let demo: DemoTopology;
  const audit = new MemoryAuditSink();
  const clients = new Map<string, Client>();

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
      { audit, users: [...Object.values(DEMO_USERS), ...EXTRA] },
    );
    for (const user of USERS) {
      const { access_token } = await obtainUserAccessToken(demo.idp, {
        username: user.username,
        password: user.password,
        resource: demo.urls.ordersMcp,
        scope: 'orders:read billing:read',
      });
      const client = new Client({ name: `agent-of-${user.username}`, version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(demo.urls.ordersMcp), {
          authProvider: { token: async () => access_token },
        }),
      );
      clients.set(user.sub, client);
    }
  });
  after(async () => {
    for (const client of clients.values()) await client.close();
    await demo.close();
  });

  async function summary(sub: string): Promise<{ orders: string[]; invoices: Array<{ id: string }> }> {
    const result = await clients.get(sub)!.callTool({ name: 'order_summary', arguments: {} });
    return JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
  }

  const exchangesFor = (sub: string, audience: string) =>
    audit.events.filter(
      (event) =>
        event.action === 'token.exchange' &&
        event.outcome === 'ok' &&
        event.initiator.sub === sub &&
        event.target.name === audience,
    ).length;

  it('links every hop of one question to the hop that caused it (W3C trace context)', async () => {
    const before = audit.events.length;
    await clients.get('user-dave')!.callTool({ name: 'list_orders', arguments: {} }); // unrelated traffic
    const result = await summary('user-carol');
    assert.deepEqual(result.invoices, []);
    const events = audit.events.slice(before).filter((event) => event.initiator.sub === 'user-carol');
    const traceIds = new Set(events.map((event) => event.trace_id));
    assert.equal(traceIds.size, 1, 'one question, one trace');
    const bySpan = new Map(events.map((event) => [event.span_id, event]));
    const parentOf = (event: (typeof events)[number]) =>
      event.parent_span_id ? bySpan.get(event.parent_span_id) : undefined;
    const find = (action: string, component: string, target?: string) =>
      events.find(
        (event) =>
          event.action === action &&
          event.component === component &&
          (target === undefined || event.target.name === target),
      )!;
    const summaryTool = find('tool.invoke', demo.urls.ordersMcp, 'order_summary');
    const callBilling = find('api.call', demo.urls.ordersMcp, 'billing-mcp');
    const exchangeForBilling = find('token.exchange', demo.broker.issuer, demo.urls.billingMcp);
    const billingTool = find('tool.invoke', demo.urls.billingMcp, 'list_invoices');
    const callApi = find('api.call', demo.urls.billingMcp, 'billing-api');
    const exchangeForApi = find('token.exchange', demo.broker.issuer, demo.urls.billingApi);
    const api = find('api.call', demo.urls.billingApi);
    assert.equal(parentOf(callBilling), summaryTool);
    assert.equal(parentOf(exchangeForBilling), callBilling);
    assert.equal(parentOf(billingTool), callBilling);
    assert.equal(parentOf(callApi), billingTool);
    assert.equal(parentOf(exchangeForApi), callApi);
    assert.equal(parentOf(api), callApi);
    assert.deepEqual(api.chain, ['billing-mcp', 'orders-mcp', summaryTool.agent.client_id]);
    assert.deepEqual(
      [summaryTool, callBilling, billingTool, callApi, api].map((event) => event.hop),
      [1, 2, 2, 3, 3],
      'hop numbers count the parties between the person and the action',
    );
  });

  it('reuses the exchanged tokens for the same person and audience', async () => {
    const first = await summary('user-alice');
    const second = await summary('user-alice');
    assert.deepEqual(second, first);
    assert.deepEqual(
      first.invoices.map((invoice) => invoice.id),
      ['INV-77', 'INV-78'],
    );
    assert.equal(
      exchangesFor('user-alice', demo.urls.billingMcp),
      1,
      'orders MCP exchanged once for billing MCP',
    );
    assert.equal(
      exchangesFor('user-alice', demo.urls.billingApi),
      1,
      'billing MCP exchanged once for the billing API',
    );
  });

  it("never serves one person another person's token or data, under concurrency", async () => {
    const calls = Array.from({ length: 30 }, (_, index) => {
      const user = USERS[index % USERS.length]!;
      return summary(user.sub).then((result) => ({ sub: user.sub, result }));
    });
    for (const { sub, result } of await Promise.all(calls)) {
      const invoices = result.invoices.map((invoice) => invoice.id);
      if (sub === 'user-alice') assert.deepEqual(invoices, ['INV-77', 'INV-78']);
      else assert.deepEqual(invoices, [], `${sub} saw someone else's invoices`);
    }
    for (const user of USERS) {
      assert.equal(exchangesFor(user.sub, demo.urls.billingMcp), 1, `${user.sub}: one exchange, reused`);
    }
    // Every billing API call was made with a token naming the person it answered for.
    for (const event of audit.events.filter(
      (candidate) => candidate.action === 'api.call' && candidate.target.name === 'GET /api/invoices',
    )) {
      assert.equal(event.delegation_mode, 'on_behalf_of');
      assert.equal(event.chain?.[0], 'billing-mcp');
      assert.equal(event.chain?.[1], 'orders-mcp');
    }
  });
});
