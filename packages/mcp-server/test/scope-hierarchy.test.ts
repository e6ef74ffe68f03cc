import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_USERS, SCRIPTED_AGENT_REDIRECT_URL, ScriptedAgentProvider } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { IdentityBoundary } from '../src/index.ts';
import { ScopeImplications } from '../src/scopes.ts';
import { type Stack, startStack } from './fixtures/stack.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

/** MCP 2026-07-28: "Servers MUST account for scope hierarchies, where a broader scope implies narrower ones". */
const IMPLICATIONS = { orders: ['orders:write'], 'orders:write': ['orders:read'] };
const RESOURCE_SCOPES = ['orders', 'orders:read', 'orders:write'];
const PREREGISTERED_AGENT = 'hierarchy-agent';
const alice = { ...DEMO_USERS.alice, allowedScopes: [...DEMO_USERS.alice.allowedScopes, 'orders'] };

describe('scope implications: the hierarchy, compiled at construction', () => {
  it('is transitive: orders ⇒ orders:write ⇒ orders:read', () => {
    const hierarchy = new ScopeImplications(IMPLICATIONS);
    assert.equal(hierarchy.covers(['orders'], ['orders:read', 'orders:write']), true);
    assert.equal(hierarchy.covers(['orders:write'], ['orders:read']), true);
  });

  it('never implies upwards: orders:read does not cover orders:write or orders', () => {
    const hierarchy = new ScopeImplications(IMPLICATIONS);
    assert.deepEqual(hierarchy.missing(['orders:read'], ['orders:read', 'orders:write', 'orders']), [
      'orders:write',
      'orders',
    ]);
  });

  it('names the least scopes that satisfy: the declared ones less any another declared one implies', () => {
    const hierarchy = new ScopeImplications(IMPLICATIONS);
    assert.deepEqual(hierarchy.least(['orders:read', 'orders:write']), ['orders:write']);
    assert.deepEqual(hierarchy.least(['orders:read']), ['orders:read'], 'never the broader orders');
    assert.deepEqual(ScopeImplications.none.least(['orders:read', 'orders:write']), [
      'orders:read',
      'orders:write',
    ]);
  });

  it('refuses a cycle when the boundary is built (a ⇒ b ⇒ a, and a ⇒ a)', () => {
    assert.throws(
      () => new ScopeImplications({ 'orders:write': ['orders:read'], 'orders:read': ['orders:write'] }),
      /cycle orders:write ⇒ orders:read ⇒ orders:write/,
    );
    assert.throws(() => new ScopeImplications({ orders: ['orders'] }), /cycle orders ⇒ orders/);
  });

  it('refuses implications that are not RFC 6749 scope tokens or not lists', () => {
    assert.throws(
      () => new ScopeImplications({ 'orders write': ['orders:read'] }),
      /not an RFC 6749 scope token/,
    );
    assert.throws(() => new ScopeImplications({ orders: ['orders "read'] }), /not an RFC 6749 scope token/);
    assert.throws(() => new ScopeImplications({ orders: 'orders:read' as never }), /non-empty list/);
    assert.throws(() => new ScopeImplications({ orders: [] }), /non-empty list/);
  });

  it('the boundary validates scopeImplications at construction', async () => {
    const stack = await startStack();
    try {
      assert.throws(
        () =>
          new IdentityBoundary({
            resource: stack.resource,
            authorizationServers: [stack.idp.issuer],
            tokenVerifier: {} as never,
            envelopes: stack.envelopes,
            audit: stack.audit,
            scopeImplications: { a: ['b'], b: ['a'] },
          }),
        (error: unknown) =>
          error instanceof TypeError && /IdentityBoundary: scopeImplications: cycle/.test(error.message),
      );
    } finally {
      await stack.close();
    }
  });
});

describe('scope implications at the boundary (real IdP, SDK v2 server and client, HTTP)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      users: [alice, DEMO_USERS.bob],
      resourceScopes: RESOURCE_SCOPES,
      boundary: {
        scopesSupported: RESOURCE_SCOPES,
        challengeScopes: ['orders:read'],
        scopeImplications: IMPLICATIONS,
      },
      idpClients: [
        {
          client_id: PREREGISTERED_AGENT,
          token_endpoint_auth_method: 'none',
          redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: RESOURCE_SCOPES.join(' '),
        },
      ],
    });
  });
  after(() => stack.close());

  const connect = async (token: string) => {
    const client = new Client({ name: 'hierarchy-agent', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
      }),
    );
    return client;
  };

  it('accepts orders:write for a tool declaring orders:read orders:write, and for one declaring orders:read', async () => {
    const token = await stack.tokenFor('alice', 'orders:write');
    const client = await connect(token);
    const created = await client.callTool({ name: 'create_order', arguments: { item: 'rope' } });
    const listed = await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.notEqual(created.isError, true);
    assert.notEqual(listed.isError, true);
  });

  it('accepts the broad orders scope for everything it implies, transitively', async () => {
    const token = await stack.tokenFor('alice', 'orders');
    const response = await fetch(toolCallRequest(stack.resource, token, 'create_order', { item: 'rope' }));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it('records the granted scopes in the envelope, not the expanded ones', async () => {
    stack.observed.length = 0;
    const client = await connect(await stack.tokenFor('alice', 'orders:write'));
    await client.callTool({ name: 'list_orders', arguments: {} });
    await client.close();
    assert.deepEqual(stack.observed.at(-1)!.identity.authorization.scopes, ['orders:write']);
  });

  it('refuses a narrower scope standing in for a broader one: orders:read cannot create, the 403 names the least scope (orders:write)', async () => {
    const token = await stack.tokenFor('alice', 'orders:read');
    const response = await fetch(toolCallRequest(stack.resource, token, 'create_order', { item: 'rope' }));
    assert.equal(response.status, 403);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="orders:write"/, 'orders:write implies the declared orders:read');
    await response.body?.cancel();
    const denied = stack.audit.events.at(-1)!;
    assert.deepEqual(
      [denied.target.name, denied.outcome, denied.reason],
      ['create_order', 'denied', 'scope_insufficient'],
    );
  });

  it('lists what the hierarchy covers: orders:write sees create_order, orders:read does not', async () => {
    const names = async (scope: string) => {
      const client = await connect(await stack.tokenFor('alice', scope));
      const tools = (await client.listTools()).tools.map((tool) => tool.name);
      await client.close();
      return tools;
    };
    const writer = await names('orders:write');
    assert.ok(writer.includes('create_order') && writer.includes('list_orders'));
    const broad = await names('orders');
    assert.ok(broad.includes('create_order') && broad.includes('list_orders'));
    const reader = await names('orders:read');
    assert.ok(reader.includes('list_orders') && !reader.includes('create_order'));
  });

  it('the SDK client steps up from orders:read with the least scope the challenge names', async () => {
    const provider = new ScriptedAgentProvider({
      credentials: alice,
      clientName: 'hierarchy agent',
      client: { client_id: PREREGISTERED_AGENT, issuer: stack.idp.issuer },
    });
    const transportFor = () =>
      new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });
    let client = new Client({ name: 'hierarchy-agent', version: '1.0.0' });
    try {
      await client.connect(transportFor());
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
      const transport = transportFor();
      await transport.finishAuth(provider.callback.searchParams);
      provider.callback = undefined;
      client = new Client({ name: 'hierarchy-agent', version: '1.0.0' });
      await client.connect(transport);
    }
    assert.equal(provider.grantedScope, 'orders:read');
    let created: Awaited<ReturnType<Client['callTool']>>;
    try {
      created = await client.callTool({ name: 'create_order', arguments: { item: 'rope' } });
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
      await (client.transport as StreamableHTTPClientTransport).finishAuth(provider.callback.searchParams);
      created = await client.callTool({ name: 'create_order', arguments: { item: 'rope' } });
    }
    await client.close();
    assert.notEqual(created.isError, true);
    // The union of what was asked before and the challenge's least scope; never the broad `orders`.
    assert.deepEqual(provider.requestedScopes[1]?.split(' ').sort(), ['orders:read', 'orders:write']);
  });
});
