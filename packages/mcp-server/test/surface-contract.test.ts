import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditEvent, createLogger } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { completable, createMcpHandler, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { IdentityBoundary, type IdentityBoundaryOptions } from '../src/index.ts';
import { rpcRequest } from './fixtures/surface.ts';

const RESOURCE = 'http://127.0.0.1:9/surface/mcp';

function boundaryWith(
  events: AuditEvent[],
  scopes: string[],
  options: Partial<IdentityBoundaryOptions> = {},
  subject = 'user-alice',
) {
  const tokenVerifier: AccessTokenVerifier = {
    async verify(token) {
      assert.equal(token, 'good-token');
      return {
        issuer: 'http://127.0.0.1:9',
        subject,
        clientId: 'agent-1',
        scopes,
        audience: [RESOURCE],
        expiresAt: Math.floor(Date.now() / 1000) + 300,
        claims: { tenant: 'acme' },
      };
    },
  };
  return new IdentityBoundary({
    resource: RESOURCE,
    authorizationServers: ['http://127.0.0.1:9'],
    tokenVerifier,
    envelopes: new EnvelopeIssuer({
      issuer: RESOURCE,
      trustDomain: 'baton.test',
      keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
    }),
    audit: { write: async (event) => void events.push(event) },
    logger: createLogger({ name: 'surface', level: 'silent' }),
    ...options,
  });
}

const rpc = (method: string, params: Record<string, unknown>) =>
  rpcRequest(RESOURCE, 'good-token', method, params);

/** The JSON-RPC message of a response (JSON, or the first SSE `data:` line). */
async function messageOf(response: Response): Promise<{
  result?: { tools: Array<{ name: string }>; prompts: unknown[] };
  error?: { code: number; message: string };
}> {
  const text = await response.text();
  const data = text.startsWith('{')
    ? text
    : (text.split('\n').find((line) => line.startsWith('data: ')) ?? '').slice(6);
  return JSON.parse(data);
}

function ledgerServerV2(boundary: IdentityBoundary, reads: string[]): McpServer {
  const server = new McpServer({ name: 'surface', version: '1' });
  boundary.registerResource(
    server,
    'ledger',
    'orders://me/ledger',
    { scopes: ['orders:write'] },
    async ({ identity, uri }) => {
      reads.push(identity.actor.sub);
      return { contents: [{ uri: uri.href, text: 'ledger' }] };
    },
  );
  boundary.registerPrompt(server, 'draft', { scopes: ['orders:write'] }, async () => ({ messages: [] }));
  server.registerTool('plain', { description: 'registered without the boundary' }, async () => ({
    content: [],
  }));
  return server;
}

describe('resource and prompt registration contract', () => {
  it('refuses a template variable that looks like identity unless it is declared on purpose', () => {
    const boundary = boundaryWith([], ['orders:read']);
    const server = new McpServer({ name: 'surface', version: '1' });
    const handler = async () => ({ contents: [] });
    assert.throws(
      () =>
        boundary.registerResource(
          server,
          'orders-of',
          new ResourceTemplate('orders://{user_id}/orders', { list: undefined }),
          { scopes: ['orders:read'] },
          handler,
        ),
      (error: Error) => error instanceof TypeError && /user_id looks like identity/.test(error.message),
    );
    boundary.registerResource(
      server,
      'orders-of',
      new ResourceTemplate('orders://{user_id}/orders', { list: undefined }),
      { scopes: ['orders:read'], identityLikeVariablesAllowed: ['user_id'] },
      handler,
    );
  });

  it('refuses a prompt argument that looks like identity unless it is declared on purpose (SDK v2 schema, SDK v1 raw shape)', () => {
    const boundary = boundaryWith([], ['orders:read']);
    const handler = async () => ({ messages: [] });
    assert.throws(
      () =>
        boundary.registerPrompt(
          new McpServer({ name: 's', version: '1' }),
          'as-user',
          { scopes: ['orders:read'], argsSchema: z.object({ on_behalf_of: z.string() }) },
          handler,
        ),
      (error: Error) => error instanceof TypeError && /on_behalf_of looks like identity/.test(error.message),
    );
    assert.throws(
      () =>
        boundary.registerPrompt(
          new McpServerV1({ name: 's', version: '1' }),
          'as-tenant',
          { scopes: ['orders:read'], argsSchema: { tenant: z.string() } as never },
          handler,
        ),
      /tenant looks like identity/,
    );
    boundary.registerPrompt(
      new McpServer({ name: 's', version: '1' }),
      'as-user',
      {
        scopes: ['orders:read'],
        argsSchema: z.object({ on_behalf_of: z.string() }),
        identityLikeInputAllowed: ['on_behalf_of'],
      },
      handler,
    );
  });

  it('requires scopes on resources and prompts, as RFC 6749 scope tokens', () => {
    const boundary = boundaryWith([], ['orders:read']);
    const server = new McpServer({ name: 'surface', version: '1' });
    assert.throws(
      () => boundary.registerResource(server, 'r', 'orders://r', {} as never, async () => ({ contents: [] })),
      /registerResource\(r\): scopes must be declared/,
    );
    assert.throws(
      () => boundary.registerPrompt(server, 'p', { scopes: ['bad scope"'] }, async () => ({ messages: [] })),
      /registerPrompt\(p\): scopes must be RFC 6749 scope tokens/,
    );
  });

  it('refuses to give one resource or prompt two scope sets on one boundary', () => {
    const boundary = boundaryWith([], ['orders:read']);
    ledgerServerV2(boundary, []);
    assert.throws(
      () =>
        boundary.registerResource(
          new McpServer({ name: 's', version: '1' }),
          'ledger',
          'orders://me/ledger',
          { scopes: ['orders:read'] },
          async () => ({ contents: [] }),
        ),
      /other scopes/,
    );
    assert.throws(
      () =>
        boundary.registerPrompt(
          new McpServer({ name: 's', version: '1' }),
          'draft',
          { scopes: ['orders:read'] },
          async () => ({ messages: [] }),
        ),
      /other scopes/,
    );
  });

  it("refuses listFiltering values other than 'hide' and 'show'", () => {
    assert.throws(() => boundaryWith([], [], { listFiltering: 'filter' as never }), /listFiltering/);
  });
});

describe('resources and prompts refused without identity or scope', () => {
  it('fails closed when the server is mounted without the boundary: no read, and none of its items listed', async () => {
    const reads: string[] = [];
    const boundary = boundaryWith([], ['orders:write']);
    const mcp = createMcpHandler(() => ledgerServerV2(boundary, reads));
    const read = await messageOf(await mcp.fetch(rpc('resources/read', { uri: 'orders://me/ledger' })));
    assert.match(read.error?.message ?? '', /requires an authenticated caller/);
    const tools = await messageOf(await mcp.fetch(rpc('tools/list', {})));
    assert.deepEqual(
      tools.result?.tools.map((tool) => tool.name),
      ['plain'],
    );
    const prompts = await messageOf(await mcp.fetch(rpc('prompts/list', {})));
    assert.deepEqual(prompts.result?.prompts, []);
    assert.deepEqual(reads, []);
    await mcp.close();
  });

  it('a first read in a fresh SDK v2 process is answered by the SDK scope challenge (403), audited', async () => {
    const events: AuditEvent[] = [];
    const reads: string[] = [];
    const boundary = boundaryWith(events, ['orders:read']);
    const mcp = createMcpHandler(() => ledgerServerV2(boundary, reads));
    const response = await boundary.protect(mcp).fetch(rpc('resources/read', { uri: 'orders://me/ledger' }));
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate') ?? '', /scope="orders:write"/);
    assert.deepEqual(reads, []);
    assert.deepEqual(
      events.map((event) => [event.action, event.target.name, event.outcome, event.reason]),
      [['resource.read', 'ledger', 'denied', 'scope_insufficient']],
    );
    await mcp.close();
  });

  it('a first get in a fresh SDK v1 process is refused by the wrapper (no pre-dispatch hook), audited; then 403 before dispatch', async () => {
    const events: AuditEvent[] = [];
    const boundary = boundaryWith(events, ['orders:read']);
    const v1 = {
      async fetch(request: Request, options?: { authInfo?: never; parsedBody?: unknown }) {
        const server = new McpServerV1({ name: 'v1', version: '1' });
        boundary.registerPrompt(server, 'draft', { scopes: ['orders:write'] }, async () => ({
          messages: [],
        }));
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        await server.connect(transport);
        return transport.handleRequest(request, options);
      },
    };
    const first = await boundary.protect(v1).fetch(rpc('prompts/get', { name: 'draft' }));
    assert.equal(first.status, 200);
    assert.match(
      (await messageOf(first)).error?.message ?? '',
      /insufficient scope: this prompt requires orders:write/,
    );
    const second = await boundary.protect(v1).fetch(rpc('prompts/get', { name: 'draft' }));
    assert.equal(second.status, 403);
    assert.deepEqual(
      events.map((event) => [event.action, event.target.type, event.outcome, event.reason]),
      [
        ['prompt.get', 'prompt', 'denied', 'scope_insufficient'],
        ['prompt.get', 'prompt', 'denied', 'scope_insufficient'],
      ],
    );
  });

  it('answers a batch mixing a tool call and a resource read lacking scope with one challenge naming every scope, one record each', async () => {
    const events: AuditEvent[] = [];
    const boundary = boundaryWith(events, ['orders:read']);
    const mcp = createMcpHandler(() => {
      const server = ledgerServerV2(boundary, []);
      boundary.registerTool(server, 'refund', { scopes: ['billing:write'] }, async () => ({ content: [] }));
      return server;
    });
    await boundary.protect(mcp).fetch(rpc('tools/list', {}));
    events.length = 0;
    const batch = new Request(RESOURCE, {
      method: 'POST',
      headers: {
        authorization: 'Bearer good-token',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'refund' } },
        { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'orders://me/ledger' } },
        { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'orders://me/ledger' } },
      ]),
    });
    const response = await boundary.protect(mcp).fetch(batch);
    assert.equal(response.status, 403);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /scope="billing:write orders:write"/);
    assert.deepEqual(
      events.map((event) => [event.action, event.target.name]),
      [
        ['tool.invoke', 'refund'],
        ['resource.read', 'ledger'],
      ],
    );
    await mcp.close();
  });
});

describe('resources, prompts and completions for the wrong caller', () => {
  it("refuses a service's own token a resource for people, audited actor_type_not_allowed", async () => {
    const events: AuditEvent[] = [];
    const reads: string[] = [];
    // A machine's own token (sub equals client_id), let in by the boundary, but the resource is for people.
    const boundary = boundaryWith(events, ['orders:write'], { serviceCallers: 'accept' }, 'agent-1');
    const mcp = createMcpHandler(() => ledgerServerV2(boundary, reads));
    const read = await messageOf(
      await boundary.protect(mcp).fetch(rpc('resources/read', { uri: 'orders://me/ledger' })),
    );
    assert.match(read.error?.message ?? '', /this resource is for people/);
    assert.deepEqual(reads, []);
    assert.deepEqual(
      events.map((event) => [event.action, event.outcome, event.reason]),
      [['resource.read', 'denied', 'actor_type_not_allowed']],
    );
    await mcp.close();
  });

  it('refuses a person a tool and a resource for services only, audited actor_type_not_allowed', async () => {
    const events: AuditEvent[] = [];
    const ran: string[] = [];
    const boundary = boundaryWith(events, ['orders:read']);
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 'machines', version: '1' });
      boundary.registerTool(
        server,
        'sync_stock',
        { scopes: ['orders:read'], actorTypes: ['service'] },
        async () => {
          ran.push('tool');
          return { content: [] };
        },
      );
      boundary.registerResource(
        server,
        'stock-feed',
        'orders://stock',
        { scopes: ['orders:read'], actorTypes: ['service'] },
        async () => {
          ran.push('resource');
          return { contents: [] };
        },
      );
      return server;
    });
    const tool = await messageOf(
      await boundary.protect(mcp).fetch(rpc('tools/call', { name: 'sync_stock', arguments: {} })),
    );
    const toolResult = tool.result as unknown as { isError?: boolean; content: unknown };
    assert.equal(toolResult.isError, true);
    assert.match(JSON.stringify(toolResult.content), /this tool is for services only/);
    const read = await messageOf(
      await boundary.protect(mcp).fetch(rpc('resources/read', { uri: 'orders://stock' })),
    );
    assert.match(read.error?.message ?? '', /this resource is for services only/);
    assert.deepEqual(ran, []);
    assert.deepEqual(
      events.map((event) => [event.action, event.outcome, event.reason]),
      [
        ['tool.invoke', 'denied', 'actor_type_not_allowed'],
        ['resource.read', 'denied', 'actor_type_not_allowed'],
      ],
    );
    await mcp.close();
  });

  it('refuses at registration actorTypes that name neither user nor service, for tools, resources and prompts', () => {
    const boundary = boundaryWith([], ['orders:read']);
    const server = new McpServer({ name: 'surface', version: '1' });
    for (const actorTypes of [[], ['robot']]) {
      const config = { scopes: ['orders:read'], actorTypes } as never;
      assert.throws(
        () => boundary.registerTool(server, `t${actorTypes.length}`, config, async () => ({ content: [] })),
        /registerTool\(t\d\): actorTypes must name user and\/or service/,
      );
      assert.throws(
        () =>
          boundary.registerResource(server, `r${actorTypes.length}`, 'orders://x', config, async () => ({
            contents: [],
          })),
        /registerResource\(r\d\): actorTypes must name user and\/or service/,
      );
      assert.throws(
        () =>
          boundary.registerPrompt(server, `p${actorTypes.length}`, config, async () => ({ messages: [] })),
        /registerPrompt\(p\d\): actorTypes must name user and\/or service/,
      );
    }
  });

  it("offers no completion for a hidden prompt's arguments (its existence is not listed through completion)", async () => {
    const build = (boundary: IdentityBoundary) => () => {
      const server = new McpServer({ name: 'complete', version: '1' });
      boundary.registerPrompt(
        server,
        'draft',
        {
          scopes: ['orders:write'],
          argsSchema: z.object({ item: completable(z.string(), () => ['rope', 'lantern']) }),
        },
        async () => ({ messages: [] }),
      );
      return server;
    };
    const complete = rpc('completion/complete', {
      ref: { type: 'ref/prompt', name: 'draft' },
      argument: { name: 'item', value: '' },
    });
    for (const [scopes, values] of [
      [['orders:write'], ['rope', 'lantern']],
      [['orders:read'], []],
    ] as const) {
      const boundary = boundaryWith([], [...scopes]);
      const mcp = createMcpHandler(build(boundary));
      const answer = await messageOf(await boundary.protect(mcp).fetch(complete.clone()));
      assert.deepEqual(
        (answer.result as unknown as { completion: { values: string[] } }).completion.values,
        values,
      );
      await mcp.close();
    }
  });
});
