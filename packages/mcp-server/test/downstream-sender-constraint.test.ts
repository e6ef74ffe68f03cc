import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type DpopKey, dpopKey, type ServiceCredentials, serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { serveNodeRequests } from '@baton/resource-server/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { DownstreamClient } from '../src/downstream/client.ts';
import { DownstreamError } from '../src/downstream/errors.ts';
import { type DownstreamService, indexServices } from '../src/downstream/services.ts';
import { TokenCache } from '../src/downstream/token-cache.ts';
import type { SharedTokenStore } from '../src/index.ts';
import { startHopSpan } from '../src/telemetry.ts';
import { type DpopPeers, type PeerHit, startDpopPeers } from './fixtures/dpop-peers.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<DownstreamError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof DownstreamError, `a DownstreamError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

/** A shared store as the vault's key-value store behaves (what instances of one server share). */
function memoryStore(): SharedTokenStore {
  const entries = new Map<string, string>();
  return {
    async get(key) {
      return entries.get(key);
    },
    async set(key, value) {
      entries.set(key, value);
    },
    async delete(key) {
      entries.delete(key);
    },
  };
}

describe('downstream calls to services that require DPoP (RFC 9449)', () => {
  let peers: DpopPeers;
  let credentials: ServiceCredentials;
  let key: DpopKey;
  const envelopes = new EnvelopeIssuer({
    issuer: 'http://127.0.0.1:9/tools/mcp',
    trustDomain: 'baton.test',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
  });

  before(async () => {
    peers = await startDpopPeers();
    credentials = await serviceCredentials('tools-mcp');
    key = await dpopKey();
  });
  after(() => peers.close());
  beforeEach(() => peers.reset());

  function setup(
    services: DownstreamService[],
    options: { tokenStore?: SharedTokenStore; credentials?: ServiceCredentials } = {},
  ) {
    const audit = new MemoryAuditSink();
    const settings = {
      options: {
        broker: { issuer: peers.brokerUrl, credentials: options.credentials ?? credentials },
        services,
      },
      services: indexServices(services),
      serviceTokens: new TokenCache(options.tokenStore ? { store: options.tokenStore } : {}),
      delegatedTokens: new TokenCache(options.tokenStore ? { store: options.tokenStore } : {}),
      audit,
      component: 'tools-mcp',
    };
    const clientFor = () => {
      const minted = envelopes.mint({
        actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
        agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
        session: { id: 'session-1', trace_id: TRACE_ID },
        authorization: { scopes: ['orders:read'], confidence: 'medium' },
        delegation: { mode: 'on_behalf_of', allowed: [...new Set(services.map((service) => service.url))] },
      });
      return new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken: 'subject-token',
          subjectIssuer: 'https://idp.example',
          hop: startHopSpan('tool t', 'server', { traceId: TRACE_ID, parentSpanId: undefined }),
        },
        settings,
      );
    };
    return { audit, clientFor };
  }

  const dpopService = (mode: DownstreamService['mode'] = 'on_behalf_of'): DownstreamService => ({
    name: 'api',
    url: peers.apiUrl,
    mode,
    scopes: ['orders:read'],
    senderConstraint: { dpop: key },
  });

  it('asks the broker for a DPoP-bound token with a proof of its key, and presents a fresh proof with each call', async () => {
    for (const mode of ['on_behalf_of', 'service_identity'] as const) {
      peers.reset();
      const { clientFor } = setup([dpopService(mode)]);
      const client = clientFor();
      const read = await client.fetch('api', 'orders?page=2');
      assert.equal(read.status, 200);
      assert.deepEqual(await read.json(), { scheme: 'DPoP', path: '/api/orders' });
      const write = await client.fetch('api', 'orders', { method: 'POST', body: '{}' });
      assert.equal(write.status, 200);

      // The token request proved the key (RFC 9449 §5): no ath, the token endpoint's htu, POST.
      assert.equal(peers.brokerHits.length, 1, mode);
      const request = peers.brokerHits[0]!.proof!;
      assert.equal(request.jkt, key.thumbprint);
      assert.equal(request.claims.htm, 'POST');
      assert.equal(request.claims.htu, `${peers.brokerUrl}/token`);
      assert.equal('ath' in request.claims, false);
      assert.equal('d' in (request.header.jwk as object), false, 'never the private key');

      // Each call its own proof (RFC 9449 §4.2, §7): its method, its URL without the query, the token's hash.
      const [first, second] = peers.apiHits as [PeerHit, PeerHit];
      assert.equal(peers.apiHits.length, 2);
      assert.match(String(first.headers.authorization), /^DPoP tok-/);
      assert.equal(first.proof!.claims.htm, 'GET');
      assert.equal(first.proof!.claims.htu, `${peers.apiUrl}/orders`);
      assert.equal(second.proof!.claims.htm, 'POST');
      assert.notEqual(first.proof!.claims.jti, second.proof!.claims.jti);
      assert.notEqual(first.headers.dpop, second.headers.dpop);
    }
  });

  it("audits each call with its token's binding (the key's thumbprint), never the token or proof", async () => {
    const { audit, clientFor } = setup([dpopService()]);
    assert.equal((await clientFor().fetch('api', 'orders')).status, 200);
    const event = audit.events.at(-1)!;
    assert.equal(event.action, 'api.call');
    assert.deepEqual(event.cnf, { jkt: key.thumbprint });
    const recorded = JSON.stringify(audit.events);
    const hit = peers.apiHits.at(-1)!;
    assert.doesNotMatch(recorded, new RegExp(String(hit.headers.authorization).split(' ')[1]!));
    assert.ok(!recorded.includes(String(hit.headers.dpop)));
  });

  it('retries once with the nonce an API asks for, and sends it on the next call unasked', async () => {
    const { clientFor } = setup([dpopService()]);
    peers.nonces.api = 'api-nonce-1';
    const client = clientFor();
    assert.equal((await client.fetch('api', 'orders')).status, 200);
    assert.deepEqual(
      peers.apiHits.map((hit) => [hit.refused, hit.proof?.claims.nonce]),
      [
        ['use_dpop_nonce', undefined],
        [undefined, 'api-nonce-1'],
      ],
    );
    // Remembered per origin, across invocations of this server: the next call carries it at once.
    assert.equal((await clientFor().fetch('api', 'orders', { method: 'POST', body: 'x' })).status, 200);
    assert.equal(peers.apiHits.length, 3);
    assert.equal(peers.apiHits[2]!.proof!.claims.nonce, 'api-nonce-1');
    assert.equal(peers.apiHits[2]!.body, '', 'the fixture records no body; the call went through once');
  });

  it('retries the token request once with the broker nonce and a fresh client assertion', async () => {
    const { clientFor } = setup([dpopService()]);
    peers.nonces.broker = 'broker-nonce-1';
    assert.equal((await clientFor().fetch('api', 'orders')).status, 200);
    const [refused, retried] = peers.brokerHits as [PeerHit, PeerHit];
    assert.equal(peers.brokerHits.length, 2);
    assert.equal(refused.refused, 'dpop_nonce_required');
    assert.equal(retried.proof!.claims.nonce, 'broker-nonce-1');
    // A client assertion is single-use (RFC 7523 §3): the retry signs a new one.
    const assertion = (hit: PeerHit) => new URLSearchParams(hit.body).get('client_assertion');
    assert.notEqual(assertion(refused), assertion(retried));
  });

  it('stops after one retry when a server keeps asking for another nonce', async () => {
    const { audit, clientFor } = setup([dpopService()]);
    let issued = 0;
    Object.defineProperty(peers.nonces, 'api', { get: () => `nonce-${++issued}`, enumerable: true });
    const response = await clientFor().fetch('api', 'orders');
    assert.equal(response.status, 401);
    assert.equal(peers.apiHits.length, 2);
    assert.equal(audit.events.at(-1)?.reason, 'http_401');
  });

  it('refuses a bearer token the broker issued for a service that requires DPoP, and never sends it', async () => {
    const { audit, clientFor } = setup([dpopService()]);
    peers.brokerTokenType = 'Bearer';
    const error = await rejectsWith(clientFor().fetch('api', 'orders'), 'ERR_DOWNSTREAM_TOKEN_REFUSED');
    assert.doesNotMatch(error.message, /tok-/);
    assert.equal(peers.apiHits.length, 0);
    const event = audit.events.at(-1)!;
    assert.equal(event.outcome, 'denied');
    assert.equal(event.reason, 'token_binding_mismatch');
  });

  it('refuses a DPoP-bound token for a service it calls without proofs (it could not prove the key)', async () => {
    const { audit, clientFor } = setup([
      { name: 'api', url: peers.apiUrl, mode: 'on_behalf_of', scopes: [] },
    ]);
    peers.brokerTokenType = 'DPoP';
    await rejectsWith(clientFor().fetch('api', 'orders'), 'ERR_DOWNSTREAM_TOKEN_REFUSED');
    assert.equal(peers.apiHits.length, 0);
    assert.equal(audit.events.at(-1)?.reason, 'token_binding_mismatch');
  });

  it('never hands a DPoP-bound token to a request that does not prove its key (the cache keys the binding)', async () => {
    // One audience, two declarations: a token cached for the DPoP one must not serve the bearer one.
    const store = memoryStore();
    const { clientFor } = setup(
      [
        { ...dpopService(), name: 'bound' },
        { name: 'bearer', url: peers.apiUrl, mode: 'on_behalf_of', scopes: ['orders:read'] },
      ],
      { tokenStore: store },
    );
    const client = clientFor();
    assert.equal((await client.fetch('bound', 'orders')).status, 200);
    assert.deepEqual(await (await client.fetch('bearer', 'orders')).json(), {
      scheme: 'Bearer',
      path: '/api/orders',
    });
    assert.equal(peers.brokerHits.length, 2, 'the bearer service got a token of its own');
    assert.equal(peers.brokerHits[1]!.headers.dpop, undefined);
    const [bound, bearer] = peers.apiHits.map((hit) => String(hit.headers.authorization).split(' ')[1]);
    assert.notEqual(bound, bearer);
    assert.equal(peers.apiHits[1]!.headers.dpop, undefined);

    // Another instance sharing the store but holding another key gets a token of its own too.
    const otherKey = await dpopKey();
    const other = setup([{ ...dpopService(), name: 'bound', senderConstraint: { dpop: otherKey } }], {
      tokenStore: store,
    });
    assert.equal((await other.clientFor().fetch('bound', 'orders')).status, 200);
    assert.equal(peers.brokerHits.length, 3);
    assert.equal(peers.apiHits.at(-1)!.proof!.jkt, otherKey.thumbprint);
  });

  it('a tool cannot choose the proof or the authorization scheme', async () => {
    const { clientFor } = setup([dpopService()]);
    const response = await clientFor().fetch('api', 'orders', {
      headers: { dpop: 'forged.proof.value', authorization: 'Bearer chosen-by-the-tool' },
    });
    assert.equal(response.status, 200);
    const [hit] = peers.apiHits;
    assert.notEqual(hit!.headers.dpop, 'forged.proof.value');
    assert.equal(hit!.proof!.jkt, key.thumbprint);
    assert.match(String(hit!.headers.authorization), /^DPoP tok-/);
  });

  it('presents a proof with every request of a downstream MCP session', async () => {
    const hits: PeerHit[] = [];
    const mcp = createMcpHandler(() => {
      const server = new McpServer({ name: 'bound-mcp', version: '1.0.0' });
      server.registerTool('ping', { description: 'Answers pong.' }, async () => ({
        content: [{ type: 'text', text: 'pong' }],
      }));
      return server;
    });
    const http = createServer();
    serveNodeRequests(http, {
      fetch: async (request: Request) => (await peers.checkResource(request, hits)) ?? mcp.fetch(request),
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    try {
      const { clientFor } = setup([
        { name: 'bound-mcp', url, mode: 'on_behalf_of', scopes: [], senderConstraint: { dpop: key } },
      ]);
      const client = await clientFor().connect('bound-mcp');
      const result = await client.callTool({ name: 'ping', arguments: {} });
      assert.deepEqual(result.content, [{ type: 'text', text: 'pong' }]);
      await client.close();
      assert.ok(hits.length >= 3, `initialize, initialized, tools/call (got ${hits.length})`);
      for (const hit of hits) {
        assert.equal(hit.refused, undefined, `${hit.method} ${hit.url}`);
        assert.equal(hit.proof!.claims.htm, hit.method);
        assert.equal(hit.proof!.claims.htu, url);
      }
      assert.equal(new Set(hits.map((hit) => hit.proof!.claims.jti)).size, hits.length);
    } finally {
      await mcp.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('refuses at construction a DPoP constraint without a key, and mutual TLS over plain HTTP', () => {
    const base = { name: 'api', url: 'http://127.0.0.1:9/api', mode: 'on_behalf_of' as const, scopes: [] };
    assert.throws(
      () => indexServices([{ ...base, senderConstraint: { dpop: {} as DpopKey } }]),
      /senderConstraint.dpop must be a DpopKey/,
    );
    assert.throws(
      () =>
        indexServices([
          { ...base, senderConstraint: { mtls: { certificate: 'x', dispatcher: { dispatch: () => true } } } },
        ]),
      /needs https/,
    );
    assert.throws(
      () => indexServices([{ ...base, senderConstraint: { dpop: key, mtls: {} } as never }]),
      /one of them/,
    );
  });
});
