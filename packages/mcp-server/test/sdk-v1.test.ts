import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AuditEvent, createLogger } from '@baton/audit';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { IdentityBoundary } from '../src/index.ts';
import { BoundaryRequestContext } from '../src/request-context.ts';

const RESOURCE = 'http://127.0.0.1:9/v1/mcp';

function boundaryWith(events: AuditEvent[], scopes: string[]) {
  const tokenVerifier: AccessTokenVerifier = {
    async verify() {
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
    logger: createLogger({ name: 'v1', level: 'silent' }),
  });
}

/** SDK v1's web-standard transport with one identity tool, served per request (stateless). */
function v1Handler(boundary: IdentityBoundary, ran: string[]) {
  return {
    async fetch(request: Request, options?: { authInfo?: never; parsedBody?: unknown }) {
      const server = new McpServer({ name: 'v1', version: '1' });
      boundary.registerTool(server, 'create_order', { scopes: ['orders:write'] }, async ({ identity }) => {
        ran.push(identity.actor.sub);
        return { content: [{ type: 'text', text: identity.actor.sub }] };
      });
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      await server.connect(transport);
      return transport.handleRequest(request, options);
    },
  };
}

const toolCall = () =>
  new Request(RESOURCE, {
    method: 'POST',
    headers: {
      authorization: 'Bearer good-token',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'create_order' } }),
  });

describe('SDK v1 servers behind the boundary', () => {
  it('a v1 host passing its own AuthInfo (requireBearerAuth, a forged context) gets no identity: the tool fails closed', async () => {
    const ran: string[] = [];
    const boundary = boundaryWith([], ['orders:write']);
    const handler = v1Handler(boundary, ran);
    const forged = new BoundaryRequestContext({
      claims: { subject: 'user-bob', scopes: ['orders:write'], clientId: 'evil', claims: {} } as never,
      callerKind: 'user',
      traceparent: null,
      traceTrusted: false,
    });
    const request = new Request(RESOURCE, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'create_order' } }),
    });
    const response = await handler.fetch(request, {
      authInfo: forged.toAuthInfo(new URL(RESOURCE), `${RESOURCE}/meta`) as never,
    });
    const { result } = await response.json();
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /authenticated caller/);
    assert.deepEqual(ran, []);
  });

  it('a first call reaching a fresh process before any v1 server was built is still refused for want of scope, audited', async () => {
    // The boundary learns a tool's scopes when it is registered; a per-request v1 server registers
    // after the boundary decided, so the wrapper's own check is what refuses this first call.
    const events: AuditEvent[] = [];
    const ran: string[] = [];
    const boundary = boundaryWith(events, ['orders:read']);
    const response = await boundary.protect(v1Handler(boundary, ran)).fetch(toolCall());
    assert.equal(response.status, 200);
    const { result } = await response.json();
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /insufficient scope/);
    assert.deepEqual(ran, []);
    assert.deepEqual(
      events.map((event) => [event.target.name, event.outcome, event.reason]),
      [['create_order', 'denied', 'scope_insufficient']],
    );
    // Once a server was built, the boundary answers before dispatch with the real 403 step-up.
    const second = await boundary.protect(v1Handler(boundary, ran)).fetch(toolCall());
    assert.equal(second.status, 403);
    const challenge = second.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="orders:write"/);
  });
});
