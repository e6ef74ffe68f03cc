import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import { serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { type DownstreamClient, DownstreamError, IdentityBoundary } from '../src/index.ts';
import { toolCallRequest } from './fixtures/tool-call.ts';

const RESOURCE = 'http://127.0.0.1:9/tools/mcp';

/** Accepts one fixed token, for tests about what happens after authentication. */
const verifier: AccessTokenVerifier = {
  async verify() {
    return {
      issuer: 'http://127.0.0.1:9',
      subject: 'user-alice',
      clientId: 'agent-1',
      scopes: ['orders:read'],
      audience: [RESOURCE],
      expiresAt: Math.floor(Date.now() / 1000) + 300,
      claims: { tenant: 'acme' },
    };
  },
};

function call(tool: string, args: Record<string, unknown> = {}): Request {
  return toolCallRequest(RESOURCE, 't', tool, args);
}

async function textOf(response: Response): Promise<string> {
  const raw = await response.text();
  const data = raw.startsWith('{')
    ? raw
    : (raw.split('\n').find((line) => line.startsWith('data: ')) ?? '').slice(6);
  return (JSON.parse(data).result.content[0] as { text: string }).text;
}

describe('downstream calls from tools', () => {
  let apiHits = 0;
  const api = createServer((_request, response) => {
    apiHits += 1;
    response.end('{}');
  });
  let apiUrl: string;
  before(async () => {
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api`;
  });
  after(() => api.close());

  const kept: DownstreamClient[] = [];
  async function boundaryWith(downstream: boolean, allowed = ['http://127.0.0.1:9/allowed-api']) {
    const audit = new MemoryAuditSink();
    const boundary = new IdentityBoundary({
      resource: RESOURCE,
      authorizationServers: ['http://127.0.0.1:9'],
      tokenVerifier: verifier,
      envelopes: new EnvelopeIssuer({
        issuer: RESOURCE,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit,
      logger: createLogger({ name: 'downstream-test', level: 'silent' }),
      ...(downstream
        ? {
            // Two services declared, but the envelope allows only the first.
            delegation: { allowed },
            downstream: {
              // An unreachable broker: a refusal that reached for it would say "unavailable".
              broker: { issuer: 'http://127.0.0.1:9', credentials: await serviceCredentials('tools-mcp') },
              services: [
                {
                  name: 'allowed-api',
                  url: 'http://127.0.0.1:9/allowed-api',
                  mode: 'on_behalf_of' as const,
                  scopes: ['orders:read'],
                },
                { name: 'other-api', url: apiUrl, mode: 'service_identity' as const, scopes: [] },
              ],
            },
          }
        : {}),
    });
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 't', version: '1' });
      boundary.registerTool(
        server,
        'call',
        { scopes: ['orders:read'], inputSchema: z.object({ service: z.string() }) },
        async ({ input }, context) => {
          try {
            await context.downstream.fetch(input.service, '', {
              headers: { authorization: 'Bearer stolen', 'txn-token': 'forged' },
            });
            return { content: [{ type: 'text', text: 'called' }] };
          } catch (error) {
            return {
              content: [
                { type: 'text', text: error instanceof DownstreamError ? error.code : String(error) },
              ],
            };
          }
        },
      );
      // A tool that keeps its downstream client, to act for the caller after its invocation.
      boundary.registerTool(server, 'keep', { scopes: ['orders:read'] }, async (_invocation, context) => {
        kept.push(context.downstream);
        return { content: [{ type: 'text', text: 'kept' }] };
      });
      return server;
    });
    return { handler: boundary.protect(mcp), audit };
  }

  it('refuses a service outside delegation.allowed before any network call', async () => {
    const { handler } = await boundaryWith(true);
    apiHits = 0;
    assert.equal(
      await textOf(await handler.fetch(call('call', { service: 'other-api' }))),
      'ERR_DOWNSTREAM_NOT_ALLOWED',
    );
    assert.equal(apiHits, 0, 'the API was never contacted');
  });

  it('compares delegation.allowed by the one resource rule: a trailing slash is the same resource, a case variant another', async () => {
    // Past the allowed check, the call reaches for the (unreachable) broker.
    const slash = await boundaryWith(true, ['http://127.0.0.1:9/allowed-api/']);
    assert.equal(
      await textOf(await slash.handler.fetch(call('call', { service: 'allowed-api' }))),
      'ERR_DOWNSTREAM_UNAVAILABLE',
    );
    const caseVariant = await boundaryWith(true, ['http://127.0.0.1:9/ALLOWED-api']);
    assert.equal(
      await textOf(await caseVariant.handler.fetch(call('call', { service: 'allowed-api' }))),
      'ERR_DOWNSTREAM_NOT_ALLOWED',
    );
  });

  it('refuses a service the server never declared', async () => {
    const { handler } = await boundaryWith(true);
    assert.equal(
      await textOf(await handler.fetch(call('call', { service: 'payroll-api' }))),
      'ERR_DOWNSTREAM_UNKNOWN_SERVICE',
    );
  });

  it('says so when the server declares no downstream services', async () => {
    const { handler } = await boundaryWith(false);
    assert.equal(
      await textOf(await handler.fetch(call('call', { service: 'allowed-api' }))),
      'ERR_DOWNSTREAM_NOT_CONFIGURED',
    );
  });

  it('fails closed, audited, when the broker cannot be reached', async () => {
    const { handler, audit } = await boundaryWith(true);
    assert.equal(
      await textOf(await handler.fetch(call('call', { service: 'allowed-api' }))),
      'ERR_DOWNSTREAM_UNAVAILABLE',
    );
    const event = audit.events.find((candidate) => candidate.action === 'api.call');
    assert.equal(event?.outcome, 'error');
    assert.equal(event?.reason, 'broker_unreachable');
    assert.equal(event?.target.name, 'allowed-api');
  });

  it('a downstream client a tool kept after its invocation cannot act for the caller any more', async () => {
    const { handler, audit } = await boundaryWith(true);
    kept.length = 0;
    assert.equal(await textOf(await handler.fetch(call('keep', {}))), 'kept');
    const before = audit.events.length;
    for (const attempt of [() => kept[0]!.fetch('allowed-api', ''), () => kept[0]!.connect('allowed-api')]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof DownstreamError);
        assert.equal(error.code, 'ERR_DOWNSTREAM_INVOCATION_ENDED');
        return true;
      });
    }
    assert.equal(audit.events.length, before, 'nothing reached the broker or was filed for the caller');
  });
});
