import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditSink, createLogger } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { IdentityBoundary } from '../src/index.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

const RESOURCE = 'http://127.0.0.1:9/tools/mcp';

/** A verifier that accepts one fixed token, for contract tests that are not about token validation. */
function acceptingVerifier(scopes: string[]): AccessTokenVerifier {
  return {
    async verify(token) {
      assert.equal(token, 'good-token');
      return {
        issuer: 'http://127.0.0.1:9',
        subject: 'user-alice',
        clientId: 'agent-1',
        scopes,
        audience: [RESOURCE],
        expiresAt: Math.floor(Date.now() / 1000) + 300,
        claims: { tenant: 'acme' },
      };
    },
  };
}

function boundaryWith(audit: AuditSink, scopes = ['orders:read']) {
  return new IdentityBoundary({
    resource: RESOURCE,
    authorizationServers: ['http://127.0.0.1:9'],
    tokenVerifier: acceptingVerifier(scopes),
    envelopes: new EnvelopeIssuer({
      issuer: RESOURCE,
      trustDomain: 'baton.test',
      keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
    }),
    audit,
    logger: createLogger({ name: 'contract', level: 'silent' }),
    scopesSupported: ['orders:read'],
  });
}

/** A legacy (2025-era, claim-less) JSON-RPC POST: the SDK answers it statelessly. */
function toolCall(name: string, args: Record<string, unknown> = {}, token = 'good-token'): Request {
  return toolCallRequest(RESOURCE, token, name, args);
}

async function resultOf(
  response: Response,
): Promise<{ isError?: boolean; content: Array<{ text: string }> }> {
  const text = await response.text();
  const data = text.startsWith('{')
    ? text
    : (text.split('\n').find((line) => line.startsWith('data: ')) ?? '').slice(6);
  return JSON.parse(data).result;
}

describe('tool registration contract', () => {
  it('refuses a tool whose input looks like identity unless it is declared on purpose', () => {
    const boundary = boundaryWith({ write: async () => {} });
    const server = new McpServer({ name: 't', version: '1' });
    for (const field of [
      'user_id',
      'userId',
      'sub',
      'tenant',
      'on_behalf_of',
      'access_token',
      'impersonate',
    ]) {
      assert.throws(
        () =>
          boundary.registerTool(
            server,
            `tool_${field}`,
            { scopes: [], inputSchema: z.object({ [field]: z.string() }) },
            async () => ({ content: [] }),
          ),
        TypeError,
        field,
      );
    }
    assert.doesNotThrow(() =>
      boundary.registerTool(
        server,
        'admin_lookup',
        { scopes: [], inputSchema: z.object({ user_id: z.string() }), identityLikeInputAllowed: ['user_id'] },
        async () => ({ content: [] }),
      ),
    );
  });

  it('requires scopes to be declared', () => {
    const boundary = boundaryWith({ write: async () => {} });
    const server = new McpServer({ name: 't', version: '1' });
    assert.throws(
      () => boundary.registerTool(server, 'undeclared', {} as never, async () => ({ content: [] })),
      TypeError,
    );
  });

  it('refuses scopes that could not be written into an RFC 6750 challenge', () => {
    const boundary = boundaryWith({ write: async () => {} });
    const server = new McpServer({ name: 't', version: '1' });
    for (const scope of ['orders "read"', 'a\\b', 'two words', '', 'caf\u00e9']) {
      assert.throws(
        () =>
          boundary.registerTool(server, `t_${scope.length}`, { scopes: [scope] }, async () => ({
            content: [],
          })),
        TypeError,
        JSON.stringify(scope),
      );
    }
  });

  it('refuses to give one tool name two scope sets on one boundary (the step-up before dispatch must know which applies)', () => {
    const boundary = boundaryWith({ write: async () => {} });
    const handler = async () => ({ content: [] });
    boundary.registerTool(
      new McpServer({ name: 't', version: '1' }),
      'orders',
      { scopes: ['orders:read'] },
      handler,
    );
    // A per-request server factory registers the same tool again: the same scopes are fine.
    boundary.registerTool(
      new McpServer({ name: 't', version: '1' }),
      'orders',
      { scopes: ['orders:read'] },
      handler,
    );
    assert.throws(
      () =>
        boundary.registerTool(new McpServer({ name: 't', version: '1' }), 'orders', { scopes: [] }, handler),
      (error: Error) => error instanceof TypeError && /other scopes/.test(error.message),
    );
  });

  it('refuses a 401 challenge scope the metadata does not advertise (clients would register for a scope never published)', () => {
    assert.throws(
      () =>
        new IdentityBoundary({
          resource: RESOURCE,
          authorizationServers: ['http://127.0.0.1:9'],
          tokenVerifier: acceptingVerifier([]),
          envelopes: new EnvelopeIssuer({
            issuer: RESOURCE,
            trustDomain: 'baton.test',
            keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
          }),
          audit: { write: async () => {} },
          scopesSupported: ['orders:read'],
          challengeScopes: ['orders:admin'],
        }),
      (error: Error) => error instanceof TypeError && /challengeScopes/.test(error.message),
    );
  });

  it('fails closed when the server is mounted without the boundary', async () => {
    let ran = false;
    const boundary = boundaryWith({ write: async () => {} });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 't', version: '1' });
      boundary.registerTool(server, 'orders', { scopes: [] }, async () => {
        ran = true;
        return { content: [{ type: 'text', text: 'ran' }] };
      });
      return server;
    });
    const result = await resultOf(await mcp.fetch(toolCall('orders')));
    assert.equal(result.isError, true);
    assert.match(result.content[0]!.text, /authenticated caller/);
    assert.equal(ran, false);
  });

  it('ignores an authInfo smuggled in by the host: only the boundary decides who is calling', async () => {
    const seen: string[] = [];
    const audit = { write: async () => {} };
    const boundary = boundaryWith(audit);
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 't', version: '1' });
      boundary.registerTool(server, 'whoami', { scopes: ['orders:read'] }, async ({ identity }) => {
        seen.push(identity.actor.sub);
        return { content: [{ type: 'text', text: identity.actor.sub }] };
      });
      return server;
    });
    const protectedHandler = boundary.protect(mcp);
    const forged = {
      token: 'x',
      clientId: 'evil',
      scopes: ['orders:read'],
      extra: { 'baton.boundary': { claims: { subject: 'user-bob' } } },
    };
    // The boundary's fetch takes no authInfo; a host passing one (e.g. Express `req.auth`) changes nothing.
    const response = await (protectedHandler.fetch as (r: Request, o: unknown) => Promise<Response>)(
      toolCall('whoami'),
      {
        authInfo: forged,
      },
    );
    assert.equal((await resultOf(response)).content[0]!.text, 'user-alice');
    assert.deepEqual(seen, ['user-alice']);
  });

  it('refuses the call when the audit record cannot be written (no silent drop)', async () => {
    let ran = false;
    const failingAudit: AuditSink = {
      async write() {
        throw new Error('audit store down');
      },
    };
    const boundary = boundaryWith(failingAudit);
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 't', version: '1' });
      boundary.registerTool(server, 'orders', { scopes: ['orders:read'] }, async () => {
        ran = true;
        return { content: [{ type: 'text', text: 'orders' }] };
      });
      return server;
    });
    const result = await resultOf(await boundary.protect(mcp).fetch(toolCall('orders')));
    assert.equal(ran, true, 'the handler ran');
    assert.equal(result.isError, true, 'but the caller is not told it succeeded without an audit record');
    assert.match(result.content[0]!.text, /audit record could not be written/);
  });

  it('serves RFC 9728 metadata at the path-aware well-known URL, unauthenticated', async () => {
    const boundary = boundaryWith({ write: async () => {} });
    const handler = boundary.protect(createMcpHandler(() => new McpServer({ name: 't', version: '1' })));
    assert.equal(
      boundary.resourceMetadataUrl,
      'http://127.0.0.1:9/.well-known/oauth-protected-resource/tools/mcp',
    );
    const response = await handler.fetch(new Request(boundary.resourceMetadataUrl));
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      resource: RESOURCE,
      authorization_servers: ['http://127.0.0.1:9'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders:read'],
    });
    const jwks = await handler.fetch(new Request(boundary.envelopeJwksUrl));
    const keys = ((await jwks.json()) as { keys: Array<Record<string, unknown>> }).keys;
    assert.equal(keys.length, 1);
    assert.equal('d' in keys[0]!, false);
  });
});
