import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '@baton/audit';
import { serveNodeRequests } from '@baton/resource-server/node';
import { RevocationList } from '@baton/shared-signals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { reaches } from './fixtures/leaks.ts';
import { ORDERS } from './fixtures/orders.ts';
import type { Mount } from './fixtures/stack.ts';
import { type Stack, startStack } from './fixtures/stack.ts';
import { buildSurfaceServer, mountSurfaceV1, mountSurfaceV2, rpcRequest } from './fixtures/surface.ts';

async function connect(stack: Stack, token: string): Promise<Client> {
  const client = new Client({ name: 'surface-test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => token },
    }),
  );
  return client;
}

function textOfResource(result: unknown): string {
  return (result as { contents: Array<{ text: string }> }).contents[0]!.text;
}

function eventsFor(stack: Stack, name: string): AuditEvent[] {
  return stack.audit.events.filter((event) => event.target.name === name);
}

for (const [sdk, mount] of [
  ['SDK v2', mountSurfaceV2],
  ['SDK v1', mountSurfaceV1],
] as const) {
  describe(`resources and prompts with identity (${sdk} server, real IdP, HTTP)`, () => {
    let stack: Stack;
    let alice: string;
    let bob: string;
    before(async () => {
      stack = await startStack({ mount });
      alice = await stack.tokenFor('alice');
      bob = await stack.tokenFor('bob');
      // A first request builds a server, so the boundary knows every item's scopes before dispatch.
      await (await connect(stack, alice)).close();
    });
    after(() => stack.close());

    it("reads the per-user resource for each caller's own identity, from the envelope", async () => {
      for (const [sub, token] of [
        ['user-alice', alice],
        ['user-bob', bob],
      ] as const) {
        const client = await connect(stack, token);
        const body = JSON.parse(textOfResource(await client.readResource({ uri: 'orders://me/pipeline' })));
        await client.close();
        assert.equal(body.sub, sub);
        assert.deepEqual(body.orders, ORDERS[sub]);
        const observed = stack.observed.at(-1)!;
        assert.equal(observed.tool, 'my-pipeline');
        assert.equal(observed.identity.actor.sub, sub);
      }
      const reads = eventsFor(stack, 'my-pipeline');
      assert.deepEqual(
        reads.map((event) => [event.action, event.target.type, event.initiator.sub, event.outcome]),
        [
          ['resource.read', 'resource', 'user-alice', 'ok'],
          ['resource.read', 'resource', 'user-bob', 'ok'],
        ],
      );
      assert.ok(
        reads.every((event) => event.envelope_id),
        'each read ran under its own envelope',
      );
    });

    it('refuses a template URI naming another user: identity comes from the envelope, never the URI', async () => {
      const client = await connect(stack, alice);
      const own = await client.readResource({ uri: 'orders://users/user-alice/orders' });
      assert.deepEqual(JSON.parse(textOfResource(own)), ORDERS['user-alice']);
      await assert.rejects(client.readResource({ uri: 'orders://users/user-bob/orders' }), /own orders/);
      await client.close();
      assert.deepEqual(
        eventsFor(stack, 'user-orders').map((event) => [event.initiator.sub, event.outcome, event.reason]),
        [
          ['user-alice', 'ok', undefined],
          ['user-alice', 'error', 'handler_threw'],
        ],
      );
    });

    it('gets a prompt built for the caller, audited as prompt.get', async () => {
      const client = await connect(stack, bob);
      const prompt = await client.getPrompt({ name: 'review_my_orders', arguments: { focus: 'late items' } });
      await client.close();
      const text = (prompt.messages[0]!.content as { text: string }).text;
      assert.match(text, /^Review user-bob's orders for late items/);
      assert.ok(text.includes('hammer') && !text.includes('rope'), "bob's orders only");
      const event = eventsFor(stack, 'review_my_orders').at(-1)!;
      assert.deepEqual(
        [event.action, event.target.type, event.initiator.sub, event.outcome],
        ['prompt.get', 'prompt', 'user-bob', 'ok'],
      );
    });

    it('answers a resources/read lacking scope with a 403 step-up challenge naming the scopes, before dispatch, audited', async () => {
      const response = await fetch(
        rpcRequest(stack.resource, bob, 'resources/read', { uri: 'orders://me/ledger' }),
      );
      assert.equal(response.status, 403);
      const challenge = response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="orders:read orders:write"/);
      assert.match(challenge, /resource my-ledger requires more scope/);
      const event = eventsFor(stack, 'my-ledger').at(-1)!;
      assert.deepEqual(
        [event.action, event.initiator.sub, event.outcome, event.reason],
        ['resource.read', 'user-bob', 'denied', 'scope_insufficient'],
      );
    });

    it('answers a prompts/get lacking scope with a 403 step-up challenge naming the scopes, audited', async () => {
      const response = await fetch(rpcRequest(stack.resource, bob, 'prompts/get', { name: 'draft_order' }));
      assert.equal(response.status, 403);
      const challenge = response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="orders:read orders:write"/);
      assert.match(challenge, /prompt draft_order requires more scope/);
      const event = eventsFor(stack, 'draft_order').at(-1)!;
      assert.deepEqual(
        [event.action, event.outcome, event.reason],
        ['prompt.get', 'denied', 'scope_insufficient'],
      );
    });

    it('maps a templated URI to its template for the step-up check, and leaves unknown URIs to the SDK', async () => {
      const narrow = await stack.tokenFor('alice', 'orders:write');
      const templated = await fetch(
        rpcRequest(stack.resource, narrow, 'resources/read', { uri: 'orders://users/user-alice/orders' }),
      );
      assert.equal(templated.status, 403);
      assert.match(templated.headers.get('www-authenticate') ?? '', /scope="orders:read"/);
      const unknown = await fetch(
        rpcRequest(stack.resource, alice, 'resources/read', { uri: 'orders://nothing/here' }),
      );
      assert.equal(unknown.status, 200, 'not a boundary item: the SDK answers');
    });

    it('lists only what the caller may use: bob (orders:read) sees fewer tools, resources and prompts than alice', async () => {
      const listed = async (token: string) => {
        const client = await connect(stack, token);
        const tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
        const resources = (await client.listResources()).resources.map((resource) => resource.uri).sort();
        const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.name).sort();
        const prompts = (await client.listPrompts()).prompts.map((prompt) => prompt.name).sort();
        await client.close();
        return { tools, resources, templates, prompts };
      };
      const everything = await listed(alice);
      assert.deepEqual(everything.tools, [
        'count_orders',
        'create_order',
        'fail',
        'list_orders',
        'plain_sdk_tool',
        'stock_level',
      ]);
      assert.deepEqual(everything.resources, ['orders://me/ledger', 'orders://me/pipeline']);
      assert.deepEqual(everything.templates, ['user-orders']);
      assert.deepEqual(everything.prompts, ['draft_order', 'review_my_orders']);
      const bobs = await listed(bob);
      assert.deepEqual(bobs.tools, ['count_orders', 'fail', 'list_orders', 'plain_sdk_tool', 'stock_level']);
      assert.deepEqual(bobs.resources, ['orders://me/pipeline']);
      assert.deepEqual(bobs.templates, ['user-orders']);
      assert.deepEqual(bobs.prompts, ['review_my_orders']);
      // Alice with a token narrowed to orders:write sees only what that covers (and tools without scopes).
      const narrowed = await listed(await stack.tokenFor('alice', 'orders:write'));
      assert.deepEqual(narrowed, { tools: ['plain_sdk_tool'], resources: [], templates: [], prompts: [] });
    });

    it('puts no raw token in the audit trail or the logs', () => {
      for (const token of [alice, bob]) {
        assert.equal(reaches(stack.audit.events, token), undefined);
        assert.ok(!stack.logLines.some((line) => line.includes(token)));
      }
    });
  });
}

describe("listFiltering: 'show'", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ mount: mountSurfaceV2, boundary: { listFiltering: 'show' } });
  });
  after(() => stack.close());

  it('lists every item to every caller; using one still needs its scopes', async () => {
    const bob = await stack.tokenFor('bob');
    const client = await connect(stack, bob);
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'create_order'));
    assert.ok(
      (await client.listResources()).resources.some((resource) => resource.uri === 'orders://me/ledger'),
    );
    assert.ok((await client.listPrompts()).prompts.some((prompt) => prompt.name === 'draft_order'));
    await client.close();
    const response = await fetch(rpcRequest(stack.resource, bob, 'prompts/get', { name: 'draft_order' }));
    assert.equal(response.status, 403);
  });
});

describe('MCP 2026-07-28 (per-request revision): lists follow identity and are never cached for others', () => {
  let stack: Stack;
  /** SDK v2 with an operator's public cache hints on the lists: a per-caller list must still be private. */
  const mountWithPublicHints: Mount = async ({ http, boundary, observed, logger }) => {
    const hint = { ttlMs: 60_000, cacheScope: 'public' as const };
    const mcp = createMcpHandler(
      () =>
        buildSurfaceServer(
          boundary,
          observed,
          new McpServer(
            { name: 'surface-2026', version: '1.0.0' },
            { cacheHints: { 'tools/list': hint, 'resources/list': hint, 'prompts/list': hint } },
          ),
          'v2',
        ) as McpServer,
    );
    serveNodeRequests(http, boundary.protect(mcp), { logger });
    return { close: () => mcp.close() };
  };
  before(async () => {
    stack = await startStack({ mount: mountWithPublicHints });
  });
  after(() => stack.close());

  async function connect2026(token: string): Promise<Client> {
    const client = new Client({ name: 'revision-test', version: '1' }, {
      versionNegotiation: { mode: { pin: '2026-07-28' } },
    } as never);
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
      }),
    );
    return client;
  }

  it("filters bob's lists and reads his own pipeline, with every list result private to him", async () => {
    const client = await connect2026(await stack.tokenFor('bob'));
    const tools = await client.listTools();
    assert.ok(!tools.tools.some((tool) => tool.name === 'create_order'));
    assert.equal((tools as { cacheScope?: string }).cacheScope, 'private');
    const resources = await client.listResources();
    assert.deepEqual(
      resources.resources.map((resource) => resource.uri),
      ['orders://me/pipeline'],
    );
    assert.equal((resources as { cacheScope?: string }).cacheScope, 'private');
    const prompts = await client.listPrompts();
    assert.deepEqual(
      prompts.prompts.map((prompt) => prompt.name),
      ['review_my_orders'],
    );
    assert.equal((prompts as { cacheScope?: string }).cacheScope, 'private');
    const body = JSON.parse(textOfResource(await client.readResource({ uri: 'orders://me/pipeline' })));
    assert.equal(body.sub, 'user-bob');
    await client.close();
  });
});

describe('a revoked person reading a resource', () => {
  let stack: Stack;
  const revocations = new RevocationList();
  before(async () => {
    stack = await startStack({ mount: mountSurfaceV2, boundary: { revocations } });
  });
  after(() => stack.close());

  it('is refused 401 and audited as the resource read it was, not as a tool call', async () => {
    const alice = await stack.tokenFor('alice');
    await (await connect(stack, alice)).close();
    const now = Math.floor(Date.now() / 1000);
    revocations.add([{ kind: 'subject', value: 'user-alice', before: now + 1, until: now + 600 }]);
    const response = await fetch(
      rpcRequest(stack.resource, alice, 'resources/read', { uri: 'orders://me/pipeline' }),
    );
    assert.equal(response.status, 401);
    const event = stack.audit.events.at(-1)!;
    assert.deepEqual(
      [event.action, event.target, event.initiator.sub, event.outcome, event.reason],
      ['resource.read', { type: 'resource', name: 'my-pipeline' }, 'user-alice', 'denied', 'subject_revoked'],
    );
  });
});
