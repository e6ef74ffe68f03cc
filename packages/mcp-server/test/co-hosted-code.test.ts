import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import { IdentityBoundary } from '../src/index.ts';
import { BoundaryRequestContext } from '../src/request-context.ts';
import { findPath, reaches } from './fixtures/leaks.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/**
 * The in-process threat model: code co-hosted in the MCP server (a plain SDK tool, a dependency) that
 * uses the SDK's API and may import any of Baton's files by path, but patches no globals.
 */
describe('co-hosted code cannot open the boundary', () => {
  let stack: Stack;
  let token: string;
  let ctx: { http?: { authInfo?: { extra?: Record<string, unknown> } } };
  before(async () => {
    stack = await startStack();
    token = await stack.tokenFor('alice');
    const client = new Client({ name: 'co-hosted-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
      }),
    );
    await client.callTool({ name: 'plain_sdk_tool', arguments: {} });
    await client.close();
    ctx = stack.observed.find((observation) => observation.tool === 'plain_sdk_tool')!
      .rawContext as typeof ctx;
  });
  after(() => stack.close());

  /** Anything that would let co-hosted code act beyond the current call: the token, a signer, settings. */
  const isCapability = (value: unknown): boolean =>
    (typeof value === 'string' && value.includes(token)) ||
    value instanceof EnvelopeIssuer ||
    value instanceof EnvelopeKeyRing ||
    (typeof value === 'object' &&
      value !== null &&
      ('subjectToken' in value || 'settings' in value || 'envelopes' in value || 'assertion' in value));

  it('an attacker importing every Baton module by file path finds no function that opens the request context', async () => {
    const context = ctx.http!.authInfo!.extra!['baton.boundary'];
    assert.ok(context instanceof BoundaryRequestContext);
    const sourceDir = new URL('../src/', import.meta.url);
    const files = (await readdir(sourceDir, { recursive: true })).filter((file) => file.endsWith('.ts'));
    assert.ok(files.length > 10, 'the module walk found the sources');
    let tried = 0;
    for (const file of files) {
      const module = (await import(new URL(file, sourceDir).href)) as Record<string, unknown>;
      for (const [name, exported] of Object.entries(module)) {
        assert.equal(
          findPath(exported, isCapability),
          undefined,
          `${file} exports ${name} holding a capability`,
        );
        if (typeof exported !== 'function') continue;
        for (const argument of [context, ctx.http!.authInfo, ctx]) {
          tried++;
          let result: unknown;
          try {
            result = await (exported as (value: unknown) => unknown)(argument);
          } catch {
            continue;
          }
          const leak = findPath(result, isCapability);
          assert.equal(leak, undefined, `${file}:${name}(…) returned a capability at ${leak}`);
        }
      }
    }
    assert.ok(tried > 20, `probed ${tried} calls`);
  });

  it('the request context itself holds no token, no signer and no settings', () => {
    assert.equal(findPath(ctx, isCapability), undefined);
    assert.equal(reaches(ctx, token), undefined);
  });

  it("a co-hosted tool that forges a request context for bob and calls an identity tool's handler is refused", async () => {
    let ran = false;
    const server = new McpServer({ name: 'attacker-view', version: '1' });
    const tool = stack.boundary.registerTool(server, 'list_orders', { scopes: ['orders:read'] }, async () => {
      ran = true;
      return { content: [{ type: 'text', text: 'bob orders' }] };
    });
    const forged = new BoundaryRequestContext({
      claims: {
        issuer: stack.idp.issuer,
        subject: 'user-bob',
        clientId: 'agent',
        scopes: ['orders:read'],
        audience: [stack.resource],
        expiresAt: Math.floor(Date.now() / 1000) + 300,
        claims: {},
      },
      callerKind: 'user',
      traceparent: null,
      traceTrusted: true,
    });
    const result = (await (tool.handler as (ctx: unknown) => Promise<{ isError?: boolean }>)({
      http: { authInfo: forged.toAuthInfo(new URL(stack.resource), 'x') },
      mcpReq: { _meta: {}, signal: new AbortController().signal },
    })) as { isError?: boolean; content: Array<{ text: string }> };
    assert.equal(result.isError, true);
    assert.match(result.content[0]!.text, /authenticated caller/);
    assert.equal(ran, false);
  });

  it('a context made by one boundary opens nothing at the tools of another boundary in the same process', async () => {
    let ran = false;
    const other = new IdentityBoundary({
      resource: 'http://127.0.0.1:9/other/mcp',
      authorizationServers: [stack.idp.issuer],
      tokenVerifier: { verify: async () => assert.fail('never asked') },
      envelopes: new EnvelopeIssuer({
        issuer: 'http://127.0.0.1:9/other/mcp',
        trustDomain: 'other',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit: new MemoryAuditSink(),
    });
    const tool = other.registerTool(
      new McpServer({ name: 'o', version: '1' }),
      'x',
      { scopes: [] },
      async () => {
        ran = true;
        return { content: [] };
      },
    );
    const result = (await (tool.handler as (ctx: unknown) => Promise<unknown>)({
      ...ctx,
      mcpReq: { _meta: {}, signal: new AbortController().signal },
    })) as { isError?: boolean };
    assert.equal(result.isError, true);
    assert.equal(ran, false);
  });
});
