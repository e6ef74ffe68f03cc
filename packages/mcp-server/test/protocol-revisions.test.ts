import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, InsufficientScopeError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ORDERS } from './fixtures/orders.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/** The boundary under both MCP revisions the SDK serves: 2026-07-28 (per-request) and 2025-11-25. */
for (const [revision, versionNegotiation] of [
  ['2026-07-28', { mode: { pin: '2026-07-28' } }],
  ['2025-11-25', { mode: 'legacy' }],
] as const) {
  describe(`MCP ${revision} through the identity boundary`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(() => stack.close());

    async function connect(token: string): Promise<Client> {
      const client = new Client({ name: 'revision-test', version: '1' }, { versionNegotiation } as never);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.resource), {
          authProvider: { token: async () => token },
          onInsufficientScope: 'throw',
        }),
      );
      return client;
    }

    it('runs a tool with the caller identity', async () => {
      const client = await connect(await stack.tokenFor('bob'));
      const result = await client.callTool({ name: 'list_orders', arguments: {} });
      await client.close();
      const body = JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
      assert.equal(body.sub, 'user-bob');
      assert.deepEqual(body.orders, ORDERS['user-bob']);
    });

    it('answers a missing scope with the step-up challenge naming every scope', async () => {
      const client = await connect(await stack.tokenFor('bob'));
      await assert.rejects(
        client.callTool({ name: 'create_order', arguments: { item: 'x' } }),
        (error: unknown) => {
          assert.ok(error instanceof InsufficientScopeError, String(error));
          assert.equal(error.requiredScope, 'orders:read orders:write');
          return true;
        },
      );
      await client.close();
      assert.equal(stack.audit.events.at(-1)?.reason, 'scope_insufficient');
    });
  });
}
