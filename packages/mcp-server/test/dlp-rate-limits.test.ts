import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, createLogger } from '@baton/audit';
import { RateLimiter } from '@baton/core/rate-limit';
import { EnvelopeIssuer } from '@baton/envelope';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { createClient } from 'redis';
import { z } from 'zod';
import { IdentityBoundary as Boundary, type IdentityBoundary } from '../src/index.ts';
import { ToolRateLimits } from '../src/rate-limit/tool-limits.ts';
import { type Mount, type Stack, startStack, TRUST_DOMAIN } from './fixtures/stack.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// Assembled at run time: the literal secret appears nowhere in this file.
const GITHUB_TOKEN = `ghp_${'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'}`;
const CARD = '4111111111111111';
/** What the leaky tools return: a downstream answer with a token and a card number in it. */
const LEAK = `{"deploy_key":"${GITHUB_TOKEN}","card":"${CARD}"}`;

/** Tools that return what a careless downstream API answered, under each DLP action. */
function buildLeakyServer(boundary: IdentityBoundary) {
  const server = new McpServer({ name: 'leaky', version: '1.0.0' });
  const leaky = async () => ({
    content: [{ type: 'text' as const, text: `downstream said: ${LEAK}` }],
    structuredContent: { raw: LEAK },
  });
  const input = z.object({});
  boundary.registerTool(server, 'leak_default', { scopes: ['orders:read'], inputSchema: input }, leaky);
  boundary.registerTool(
    server,
    'leak_blocked',
    { scopes: ['orders:read'], inputSchema: input, dlp: { action: 'block' } },
    leaky,
  );
  boundary.registerTool(
    server,
    'leak_audited',
    { scopes: ['orders:read'], inputSchema: input, dlp: { action: 'audit' } },
    leaky,
  );
  boundary.registerTool(server, 'leak_thrown', { scopes: ['orders:read'], inputSchema: input }, async () => {
    throw new Error(`downstream failed with ${LEAK}`);
  });
  boundary.registerTool(
    server,
    'leak_progress',
    { scopes: ['orders:read'], inputSchema: input },
    async (_call, context) => {
      await context.progress(1, 2, `fetching: ${LEAK}`);
      return { content: [{ type: 'text' as const, text: 'done' }] };
    },
  );
  boundary.registerTool(
    server,
    'leak_thrown_string',
    { scopes: ['orders:read'], inputSchema: input },
    async () => {
      throw `downstream failed with ${LEAK}`;
    },
  );
  boundary.registerResource(
    server,
    'leaky_resource',
    'orders://me/leak',
    { scopes: ['orders:read'] },
    async ({ uri }) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: LEAK }],
    }),
  );
  boundary.registerResource(
    server,
    'leaky_resource_blocked',
    'orders://me/leak-blocked',
    { scopes: ['orders:read'], dlp: { action: 'block' } },
    async ({ uri }) => ({ contents: [{ uri: uri.href, text: LEAK }] }),
  );
  boundary.registerPrompt(server, 'leaky_prompt', { scopes: ['orders:read'] }, async () => ({
    messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `summarise ${LEAK}` } }],
  }));
  boundary.registerTool(server, 'list_orders', { scopes: ['orders:read'], inputSchema: input }, async () => ({
    content: [{ type: 'text' as const, text: '[]' }],
  }));
  return server;
}

const mountLeaky: Mount = async ({ http, boundary, logger }) => {
  const mcp = createMcpHandler(() => buildLeakyServer(boundary));
  serveNodeRequests(http, boundary.protect(mcp), { logger });
  return { close: () => mcp.close() };
};

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'dlp-test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { authProvider: { token: async () => token } }),
  );
  return client;
}

function eventsFor(stack: Stack, tool: string): AuditEvent[] {
  return stack.audit.events.filter((event) => event.target.name === tool);
}

describe('DLP on tool results (real IdP, SDK v2 client and server, HTTP)', () => {
  let stack: Stack;
  let client: Client;
  before(async () => {
    stack = await startStack({ mount: mountLeaky, boundary: { dlp: { action: 'redact' } } });
    client = await connect(stack.resource, await stack.tokenFor('alice'));
  });
  after(async () => {
    await client?.close();
    await stack?.close();
  });

  it('redacts a leaked token and card number by the boundary default, in text and structured content', async () => {
    const result = await client.callTool({ name: 'leak_default', arguments: {} });
    const sent = JSON.stringify(result);
    assert.ok(!sent.includes(GITHUB_TOKEN) && !sent.includes(CARD));
    assert.match(sent, /\[REDACTED:secret\.github\]/);
    assert.match(sent, /\[REDACTED:card\]/);
    assert.equal(result.isError, undefined);
    const [event] = eventsFor(stack, 'leak_default');
    assert.equal(event?.outcome, 'ok');
    assert.deepEqual(event?.dlp, { action: 'redact', findings: { 'secret.github': 2, card: 2 } });
  });

  it('blocks the whole result for a tool declared block, naming the detectors only', async () => {
    const result = await client.callTool({ name: 'leak_blocked', arguments: {} });
    assert.equal(result.isError, true);
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    assert.match(text, /withheld by data loss prevention/);
    assert.match(text, /secret\.github \(2\)/);
    assert.ok(!JSON.stringify(result).includes(GITHUB_TOKEN));
    assert.equal(result.structuredContent, undefined);
    const [event] = eventsFor(stack, 'leak_blocked');
    assert.equal(event?.outcome, 'denied');
    assert.equal(event?.reason, 'dlp_blocked');
    assert.deepEqual(event?.dlp?.action, 'block');
  });

  it('lets an audit-only tool through unchanged, and audits what it found', async () => {
    const result = await client.callTool({ name: 'leak_audited', arguments: {} });
    assert.ok(JSON.stringify(result).includes(GITHUB_TOKEN));
    const [event] = eventsFor(stack, 'leak_audited');
    assert.deepEqual(event?.dlp, { action: 'audit', findings: { 'secret.github': 2, card: 2 } });
  });

  it('redacts a thrown error message, which the SDK would otherwise send to the client', async () => {
    const result = await client.callTool({ name: 'leak_thrown', arguments: {} });
    assert.equal(result.isError, true);
    const sent = JSON.stringify(result);
    assert.ok(!sent.includes(GITHUB_TOKEN) && !sent.includes(CARD));
    assert.match(sent, /\[REDACTED:secret\.github\]/);
    assert.equal(eventsFor(stack, 'leak_thrown')[0]?.reason, 'tool_threw');
  });

  it('redacts a progress message a tool sends with a leaked token, and audits it with the call', async () => {
    const messages: string[] = [];
    const result = await client.callTool(
      { name: 'leak_progress', arguments: {} },
      { onprogress: (progress) => messages.push(progress.message ?? '') },
    );
    assert.equal(result.isError, undefined);
    assert.equal(messages.length, 1);
    assert.ok(
      !messages[0]!.includes(GITHUB_TOKEN) && !messages[0]!.includes(CARD),
      'the progress message leaked',
    );
    assert.match(messages[0]!, /\[REDACTED:secret\.github\]/);
    assert.deepEqual(eventsFor(stack, 'leak_progress')[0]?.dlp, {
      action: 'redact',
      findings: { 'secret.github': 1, card: 1 },
    });
  });

  it('redacts a thrown string, which the SDK sends to the client as String(error)', async () => {
    const result = await client.callTool({ name: 'leak_thrown_string', arguments: {} });
    assert.equal(result.isError, true);
    const sent = JSON.stringify(result);
    assert.ok(!sent.includes(GITHUB_TOKEN) && !sent.includes(CARD), 'the thrown string leaked');
  });

  it('applies the boundary default to a resource read, and audits what it found', async () => {
    const read = await client.readResource({ uri: 'orders://me/leak' });
    const sent = JSON.stringify(read);
    assert.ok(!sent.includes(GITHUB_TOKEN) && !sent.includes(CARD), 'the resource leaked');
    assert.match(sent, /\[REDACTED:secret\.github\]/);
    assert.deepEqual(eventsFor(stack, 'leaky_resource')[0]?.dlp, {
      action: 'redact',
      findings: { 'secret.github': 1, card: 1 },
    });
  });

  it('refuses a resource read its own dlp blocks, naming the detectors only, audited dlp_blocked', async () => {
    await assert.rejects(client.readResource({ uri: 'orders://me/leak-blocked' }), (error: Error) => {
      assert.match(error.message, /withheld by data loss prevention/);
      assert.ok(!error.message.includes(GITHUB_TOKEN));
      return true;
    });
    const [event] = eventsFor(stack, 'leaky_resource_blocked');
    assert.equal(event?.outcome, 'denied');
    assert.equal(event?.reason, 'dlp_blocked');
    assert.equal(event?.dlp?.action, 'block');
  });

  it('applies the boundary default to a prompt get', async () => {
    const prompt = await client.getPrompt({ name: 'leaky_prompt' });
    const sent = JSON.stringify(prompt);
    assert.ok(!sent.includes(GITHUB_TOKEN) && !sent.includes(CARD), 'the prompt leaked');
    assert.deepEqual(eventsFor(stack, 'leaky_prompt')[0]?.dlp?.findings, { 'secret.github': 1, card: 1 });
  });

  it('never writes a found value into an audit event or the log', async () => {
    const recorded = JSON.stringify(stack.audit.events) + stack.logLines.join('');
    assert.ok(!recorded.includes(GITHUB_TOKEN), 'the token reached the audit or the log');
    assert.ok(!recorded.includes(CARD), 'the card number reached the audit or the log');
  });

  it('refuses an unknown detector when the boundary is built', () => {
    assert.throws(
      () =>
        new Boundary({
          ...boundaryOptionsOf(stack),
          dlp: { action: 'redact', detectors: ['passport' as never] },
        }),
      /unknown dlp detector passport/,
    );
  });
});

function boundaryOptionsOf(stack: Stack) {
  return {
    resource: stack.resource,
    authorizationServers: [stack.idp.issuer],
    tokenVerifier: jwtAccessTokenVerifier({ issuer: stack.idp.issuer, audience: stack.resource }),
    envelopes: new EnvelopeIssuer({ issuer: stack.resource, trustDomain: TRUST_DOMAIN, keys: stack.ring }),
    audit: stack.audit,
    scopesSupported: ['orders:read', 'orders:write'],
  };
}

describe('rate limits per person, agent and tool, shared by two boundary instances through Redis', () => {
  const keyPrefix = `baton-test:${randomBytes(6).toString('hex')}`;
  let redis: ReturnType<typeof createClient>;
  let stack: Stack;
  let second: { http: Server; url: string; close(): Promise<void> };
  let alice: string;
  let bob: string;
  before(async () => {
    redis = createClient({ url: REDIS_URL });
    redis.on('error', () => {});
    await redis.connect();
    const rateLimits = {
      perPerson: { points: 3, durationSeconds: 60 },
      perTool: { leak_default: { points: 1, durationSeconds: 60 } },
      store: { redis, keyPrefix },
    };
    stack = await startStack({ mount: mountLeaky, boundary: { rateLimits } });
    // The same server's second instance (as behind a load balancer): same resource, its own boundary.
    const boundary = new Boundary({ ...boundaryOptionsOf(stack), rateLimits });
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const mcp = createMcpHandler(() => buildLeakyServer(boundary));
    serveNodeRequests(http, boundary.protect(mcp));
    const port = (http.address() as { port: number }).port;
    second = {
      http,
      url: `http://127.0.0.1:${port}/mcp`,
      async close() {
        await mcp.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    };
    alice = await stack.tokenFor('alice');
    bob = await stack.tokenFor('bob');
  });
  after(async () => {
    await second?.close();
    await stack?.close();
    if (redis?.isOpen) {
      for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*` }))
        if (keys.length) await redis.del(keys);
      await redis.close();
    }
  });

  const call = (url: string, token: string, tool = 'list_orders') => fetch(toolCallRequest(url, token, tool));

  it('refuses the person over the limit on either instance with 429 and Retry-After, while another person is unaffected', async () => {
    assert.equal((await call(stack.resource, alice)).status, 200);
    assert.equal((await call(second.url, alice)).status, 200);
    assert.equal((await call(stack.resource, alice)).status, 200);
    const refused = await call(second.url, alice);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const body = (await refused.json()) as { id: number; error: { message: string; data: unknown } };
    assert.equal(body.id, 7);
    assert.match(body.error.message, /rate limit reached \(per person\)/);
    // Bob has his own budget, on both instances.
    assert.equal((await call(second.url, bob)).status, 200);
  });

  it('audits the refusal as rate_limited, for the person and the tool', () => {
    const refused = stack.audit.events.filter((event) => event.reason === 'rate_limited');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.initiator.sub, 'user-alice');
    assert.equal(refused[0]?.target.name, 'list_orders');
    assert.equal(refused[0]?.outcome, 'denied');
  });

  it('limits one tool per person on its own: a second call of it is refused, other tools still run', async () => {
    assert.equal((await call(second.url, bob, 'leak_default')).status, 200);
    const refused = await call(stack.resource, bob, 'leak_default');
    assert.equal(refused.status, 429);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /tool leak_default/,
    );
  });

  it('surfaces the 429 to an SDK v2 client as an HTTP error on the call', async () => {
    const client = await connect(second.url, alice);
    try {
      await assert.rejects(client.callTool({ name: 'list_orders', arguments: {} }), /429|rate limit/);
    } finally {
      await client.close();
    }
  });
});

describe('a rate limit whose Redis is down', () => {
  it('falls back to counting in this instance’s memory, with the same limit, rather than failing every call', async () => {
    const redis = createClient({
      url: 'redis://127.0.0.1:1',
      disableOfflineQueue: true,
      socket: { reconnectStrategy: false },
    });
    redis.on('error', () => {});
    const limiter = new RateLimiter(
      'person',
      { points: 2, durationSeconds: 60 },
      { redis, keyPrefix: 'baton-test:down' },
    );
    assert.equal(await limiter.consume('alice'), undefined);
    assert.equal(await limiter.consume('alice'), undefined);
    assert.ok((await limiter.consume('alice'))?.retryAfterSeconds);
    assert.equal(await limiter.consume('bob'), undefined);
  });

  it('does not make each call wait for a Redis that is down: it falls back at once and reports the fallback', async () => {
    // A client pointed at a closed port, still trying to reconnect (the usual outage): not ready.
    const redis = createClient({ url: 'redis://127.0.0.1:1', socket: { reconnectStrategy: () => 50 } });
    redis.on('error', () => {});
    redis.connect().catch(() => {});
    const fallbacks: string[] = [];
    const limiter = new RateLimiter(
      'person',
      { points: 1, durationSeconds: 60 },
      {
        redis,
        keyPrefix: 'baton-test:down-fast',
        onFallback: ({ limiter: name, error }) => fallbacks.push(`${name}:${(error as Error).name}`),
      },
    );
    try {
      // Generous bound (not a timing assertion): the old insurance path waited on the client's queue.
      const signal = AbortSignal.timeout(3000);
      const answered = await Promise.race([
        limiter.consume('alice').then((over) => ({ over })),
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(new Error('consume waited for Redis'))),
        ),
      ]);
      assert.equal(answered.over, undefined);
      assert.ok((await limiter.consume('alice'))?.retryAfterSeconds, 'the memory count keeps the limit');
      assert.deepEqual(fallbacks, ['person:Error', 'person:Error']);
    } finally {
      redis.destroy();
    }
  });

  it('logs each fallback of the boundary’s limits with the error name only, never the Redis address', async () => {
    const redis = createClient({
      url: 'redis://baton:hunter2@127.0.0.1:1',
      socket: { reconnectStrategy: () => 50 },
    });
    redis.on('error', () => {});
    redis.connect().catch(() => {});
    const lines: string[] = [];
    const logger = createLogger({
      name: 't',
      destination: { write: (line: string) => void lines.push(line) },
    });
    const limits = new ToolRateLimits(
      { perPerson: { points: 5, durationSeconds: 60 }, store: { redis, keyPrefix: 'baton-test:down-log' } },
      logger,
    );
    try {
      const alice = { actor: { type: 'user', sub: 'alice', tenant: 'acme' }, agent: 'agent-1' } as never;
      assert.equal(await limits.consume(alice, ['list_orders']), undefined);
      const [line] = lines.map((text) => JSON.parse(text) as Record<string, unknown>);
      assert.equal(line?.msg, 'rate limit store unavailable: counting in this instance');
      assert.equal(line?.limiter, 'person');
      assert.equal(line?.err_name, 'Error');
      assert.ok(!lines.join('').includes('hunter2') && !lines.join('').includes('127.0.0.1:1'));
    } finally {
      redis.destroy();
    }
  });

  it('refuses a Redis store without a key prefix at construction', () => {
    assert.throws(
      () => new RateLimiter('person', { points: 1, durationSeconds: 1 }, { redis: {}, keyPrefix: '' }),
      /keyPrefix/,
    );
  });
});
