import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TOKEN_WITHHELD } from '../src/index.ts';
import { assertRfc6750Challenge } from './fixtures/challenge-grammar.ts';
import { reaches } from './fixtures/leaks.ts';
import { STACKS, v1Server } from './fixtures/mounts.ts';
import { ORDERS } from './fixtures/orders.ts';
import { SCOPES, type Stack, startStack } from './fixtures/stack.ts';

/**
 * The adapter conformance suite: the same cases through every MCP server stack (SDK v1 and v2; Node,
 * Express, Hono, fetch), with a real IdP, real HTTP and the official SDK client. Adapters only
 * translate, so every stack must answer alike.
 */

async function connect(stack: Stack, token: string): Promise<Client> {
  const client = new Client({ name: 'conformance-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => token },
    }),
  );
  return client;
}

function textOf(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

function postToolCall(stack: Stack, token: string | undefined, name: string, args: Record<string, unknown>) {
  return fetch(stack.resource, {
    method: 'POST',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name, arguments: args } }),
  });
}

for (const { name, sdk, mount } of STACKS) {
  describe(`identity boundary conformance: ${name}`, () => {
    let stack: Stack;
    let aliceToken: string;
    before(async () => {
      stack = await startStack({ mount, boundary: { challengeScopes: ['orders:read'] } });
      aliceToken = await stack.tokenFor('alice');
    });
    after(() => stack.close());

    it('answers a call without a token with 401 and a challenge naming the metadata and the basic scope', async () => {
      const response = await postToolCall(stack, undefined, 'list_orders', {});
      assert.equal(response.status, 401);
      const challenge = response.headers.get('www-authenticate') ?? '';
      assertRfc6750Challenge(challenge);
      assert.ok(challenge.includes(`resource_metadata="${stack.boundary.resourceMetadataUrl}"`));
      assert.match(challenge, /scope="orders:read"/);
    });

    it('publishes RFC 9728 metadata naming the authorization server and every scope the server may ask', async () => {
      const response = await fetch(stack.boundary.resourceMetadataUrl);
      assert.equal(response.status, 200);
      const metadata = await response.json();
      assert.equal(metadata.resource, stack.resource);
      assert.deepEqual(metadata.authorization_servers, [stack.idp.issuer]);
      assert.deepEqual(metadata.scopes_supported, SCOPES);
    });

    it("hands the tool { identity, input } with the caller's identity from the token", async () => {
      stack.observed.length = 0;
      const client = await connect(stack, aliceToken);
      const body = JSON.parse(textOf(await client.callTool({ name: 'list_orders', arguments: {} })));
      await client.close();
      assert.equal(body.sub, 'user-alice');
      assert.deepEqual(body.orders, ORDERS['user-alice']);
      const seen = stack.observed.at(-1)!;
      assert.equal(seen.identity.actor.sub, 'user-alice');
      assert.deepEqual(seen.input, {});
    });

    it('an agent passing user_id of another person in the input still acts for the caller', async () => {
      const client = await connect(stack, aliceToken);
      const body = JSON.parse(
        textOf(await client.callTool({ name: 'list_orders', arguments: { user_id: 'user-bob' } })),
      );
      await client.close();
      assert.equal(body.sub, 'user-alice');
      assert.equal(stack.observed.at(-1)!.identity.actor.sub, 'user-alice');
    });

    it("answers a call lacking the tool's scopes with HTTP 403 insufficient_scope and the step-up challenge, audited", async () => {
      const readOnly = await stack.tokenFor('alice', 'orders:read');
      const auditBefore = stack.audit.events.length;
      const response = await postToolCall(stack, readOnly, 'create_order', { item: 'rope' });
      assert.equal(response.status, 403);
      const challenge = response.headers.get('www-authenticate') ?? '';
      assertRfc6750Challenge(challenge);
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="orders:read orders:write"/);
      assert.ok(challenge.includes(`resource_metadata="${stack.boundary.resourceMetadataUrl}"`));
      assert.equal((await response.json()).error, 'insufficient_scope');
      const denied = stack.audit.events.slice(auditBefore);
      assert.equal(denied.length, 1);
      assert.equal(denied[0]?.outcome, 'denied');
      assert.equal(denied[0]?.reason, 'scope_insufficient');
      assert.equal(denied[0]?.target.name, 'create_order');
      assert.equal(denied[0]?.initiator.sub, 'user-alice');
    });

    it('records one audit event per invocation: initiator, agent, tool, outcome, envelope', async () => {
      const auditBefore = stack.audit.events.length;
      const client = await connect(stack, aliceToken);
      await client.callTool({ name: 'create_order', arguments: { item: 'rope' } });
      await client.close();
      const events = stack.audit.events.slice(auditBefore);
      assert.equal(events.length, 1);
      const [event] = events;
      assert.equal(event?.action, 'tool.invoke');
      assert.equal(event?.outcome, 'ok');
      assert.equal(event?.target.name, 'create_order');
      assert.equal(event?.initiator.sub, 'user-alice');
      assert.ok(event?.agent.client_id);
      assert.ok(event?.envelope_id);
      assert.equal(reaches(event, aliceToken), undefined);
    });

    it('withholds the token from tool code: neither an identity tool nor a plain SDK tool can reach it', async () => {
      stack.observed.length = 0;
      const client = await connect(stack, aliceToken);
      await client.callTool({ name: 'list_orders', arguments: {} });
      await client.callTool({ name: 'plain_sdk_tool', arguments: {} });
      await client.close();
      const identityTool = stack.observed.find((seen) => seen.tool === 'list_orders')!;
      const plainTool = stack.observed.find((seen) => seen.tool === 'plain_sdk_tool')!;
      assert.equal(reaches(identityTool.invocation, aliceToken), undefined);
      assert.equal(reaches(identityTool.context, aliceToken), undefined);
      assert.equal(reaches(plainTool.rawContext, aliceToken), undefined);
      assert.equal(reaches(plainTool.rawContext, aliceToken.split('.')[2]!), undefined);
      assert.ok(reaches(plainTool.rawContext, TOKEN_WITHHELD), 'the SDK saw the AuthInfo, without the token');
    });

    it('refuses to register a tool whose input looks like identity on this SDK', () => {
      const server = sdk === 'v1' ? v1Server() : new McpServer({ name: 't', version: '1' });
      assert.throws(
        () =>
          stack.boundary.registerTool(
            server,
            'orders_of',
            { scopes: ['orders:read'], inputSchema: z.object({ user_id: z.string() }) },
            async () => ({ content: [] }),
          ),
        (error: Error) => error instanceof TypeError && /user_id looks like identity/.test(error.message),
      );
    });
  });
}
