import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type ServiceCredentials, serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing, TXN_TOKEN_HEADER } from '@baton/envelope';
import { createVault, FileKeyStore, MemoryVaultStore, vaultKeyValue } from '@baton/vault';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { DownstreamClient } from '../src/downstream/client.ts';
import { DownstreamError } from '../src/downstream/errors.ts';
import { type DownstreamService, indexServices } from '../src/downstream/services.ts';
import { TokenCache } from '../src/downstream/token-cache.ts';
import { TracedClient } from '../src/downstream/traced-client.ts';
import { startHopSpan } from '../src/telemetry.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A URL on 127.0.0.1 that nobody listens on. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return url;
}

/** An unsigned JWT-shaped token: the boundary has verified it before the downstream client sees it. */
function jwtFrom(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'at+jwt' })}.${part(claims)}.c2lnbmF0dXJl`;
}

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

describe('downstream hardening', () => {
  const exporter = new InMemorySpanExporter();
  const brokerHits: Array<Record<string, string>> = [];
  const apiHits: Hit[] = [];
  const evilHits: Hit[] = [];
  let issued = 0;
  const broker = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      brokerHits.push(form);
      issued += 1;
      response.setHeader('content-type', 'application/json');
      if (form.resource?.endsWith('/refused-api')) {
        // A broker refusal, as RFC 8693 answers one.
        response.statusCode = 400;
        response.end(JSON.stringify({ error: 'invalid_target', error_description: 'refused by policy' }));
        return;
      }
      response.end(
        JSON.stringify({
          access_token: `downstream-secret-${issued}`,
          token_type: 'Bearer',
          expires_in: 300,
        }),
      );
    });
  });
  let evilUrl: string;
  const evil = createServer((request, response) => {
    evilHits.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    response.end('stolen');
  });
  const api = createServer((request, response) => {
    apiHits.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    if (request.url?.startsWith('/api/moved')) {
      response.writeHead(302, { location: `${evilUrl}/collect` });
      response.end();
      return;
    }
    response.setHeader('content-type', 'application/json');
    response.end('{}');
  });
  let brokerUrl: string;
  let apiUrl: string;
  let credentials: ServiceCredentials;
  const keys = EnvelopeKeyRing.generate({ retentionSeconds: 600 });
  const envelopes = new EnvelopeIssuer({
    issuer: 'http://127.0.0.1:9/tools/mcp',
    trustDomain: 'baton.test',
    keys,
  });

  before(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    brokerUrl = await listen(broker);
    evilUrl = await listen(evil);
    apiUrl = `${await listen(api)}/api`;
    credentials = await serviceCredentials('tools-mcp');
  });
  after(async () => {
    for (const server of [broker, evil, api]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    trace.disable();
  });
  beforeEach(() => {
    brokerHits.length = 0;
    apiHits.length = 0;
    evilHits.length = 0;
    exporter.reset();
  });

  interface Caller {
    scopes?: string[];
    chain?: string[];
    subjectToken?: string;
    issuer?: string;
  }

  function setup(services: DownstreamService[]) {
    const audit = new MemoryAuditSink();
    const settings = {
      options: { broker: { issuer: brokerUrl, credentials }, services },
      services: indexServices(services),
      serviceTokens: new TokenCache(),
      delegatedTokens: new TokenCache(),
      audit,
      component: 'tools-mcp',
    };
    const clientFor = (caller: Caller = {}) => {
      const minted = envelopes.mint({
        actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
        agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
        session: { id: 'session-1', trace_id: TRACE_ID },
        authorization: { scopes: caller.scopes ?? ['orders:read'], confidence: 'medium' },
        delegation: {
          mode: 'on_behalf_of',
          allowed: services.map((service) => service.audience ?? service.url),
          chain: caller.chain ?? [],
        },
      });
      return new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken: caller.subjectToken ?? jwtFrom({ iss: 'https://idp.example', sub: 'user-alice' }),
          subjectIssuer: caller.issuer ?? 'https://idp.example',
          hop: startHopSpan('tool t', 'server', { traceId: TRACE_ID, parentSpanId: undefined }),
        },
        settings,
      );
    };
    return { audit, clientFor };
  }

  describe('tool-supplied paths stay inside the service', () => {
    const services = (): DownstreamService[] => [
      { name: 'orders-api', url: apiUrl, mode: 'service_identity', scopes: ['orders:read'] },
      {
        name: 'obo-api',
        url: apiUrl,
        audience: 'http://127.0.0.1/obo-api',
        mode: 'on_behalf_of',
        scopes: [],
      },
    ];

    for (const [label, path] of [
      ['an absolute URL on another origin', () => `${evilUrl}/x`],
      ['a scheme-relative URL', () => `//${new URL(evilUrl).host}/x`],
      ['a backslash scheme-relative URL', () => `\\\\${new URL(evilUrl).host}\\x`],
      [
        'an absolute URL with credentials on the same origin',
        () => `http://user:pw@${new URL(apiUrl).host}/api/x`,
      ],
      ['a root-relative path outside the service path', () => '/orders'],
      ['a .. escape', () => '../admin'],
      ['a nested .. escape', () => 'orders/../../admin'],
      ['a percent-encoded .. escape', () => '%2e%2e/admin'],
      ['an encoded slash', () => '..%2Fadmin'],
      ['a ..;param escape', () => '..;/admin'],
      ['a double-encoded .. escape', () => '%252e%252e/admin'],
    ] as const) {
      it(`refuses ${label} with ERR_DOWNSTREAM_PATH_REFUSED before any token or network call`, async () => {
        const { audit, clientFor } = setup(services());
        for (const service of ['orders-api', 'obo-api']) {
          const error = await rejectsWith(clientFor().fetch(service, path()), 'ERR_DOWNSTREAM_PATH_REFUSED');
          assert.equal(error.message.includes('downstream-secret'), false);
        }
        assert.equal(brokerHits.length, 0, 'no token was obtained');
        assert.equal(apiHits.length, 0, 'the API was not contacted');
        assert.equal(evilHits.length, 0, 'the other host was not contacted');
        const events = audit.events.filter((event) => event.action === 'api.call');
        assert.equal(events.length, 2, 'each refusal is audited');
        for (const event of events) {
          assert.equal(event.outcome, 'denied');
          assert.equal(event.reason, 'path_outside_service');
        }
        const spans = exporter.getFinishedSpans().filter((span) => span.name.startsWith('call '));
        assert.equal(spans.length, 2, 'the call spans were ended');
      });
    }

    it('refuses at construction a service URL with a query or fragment', () => {
      // With `?v=2` the prefix would be `/api`, and `../api-admin/secrets` would be inside it.
      for (const url of ['https://svc.test/api?v=2', 'https://svc.test/api#top', 'https://svc.test/api?']) {
        assert.throws(
          () =>
            indexServices([
              { name: 'query-api', url, audience: 'https://svc.test/api', mode: 'on_behalf_of', scopes: [] },
            ]),
          (error: Error) =>
            error instanceof TypeError &&
            error.message === 'downstream service query-api: url must have no query or fragment',
        );
      }
    });

    it('still calls paths inside the service, with the credentials', async () => {
      const { clientFor } = setup(services());
      const client = clientFor();
      for (const path of ['', 'orders', 'orders/7?full=1', '/api/orders', 'orders/../invoices']) {
        const response = await client.fetch('orders-api', path);
        assert.equal(response.status, 200);
      }
      assert.deepEqual(
        apiHits.map((hit) => hit.url),
        ['/api/', '/api/orders', '/api/orders/7?full=1', '/api/orders', '/api/invoices'],
      );
      for (const hit of apiHits) {
        assert.match(String(hit.headers.authorization), /^Bearer downstream-secret-\d+$/);
        assert.ok(hit.headers[TXN_TOKEN_HEADER.toLowerCase()], 'the envelope went to the service');
      }
    });
  });

  describe('credential headers come from the client alone', () => {
    it('a tool cannot send its own Authorization, Txn-Token or baton-* identity headers', async () => {
      const { clientFor } = setup([
        {
          name: 'obo-api',
          url: apiUrl,
          audience: 'http://127.0.0.1/obo-api',
          mode: 'on_behalf_of',
          scopes: [],
        },
      ]);
      const forged = {
        authorization: 'Bearer forged-by-the-tool',
        [TXN_TOKEN_HEADER]: 'forged.envelope.token',
        'baton-actor-sub': 'user-mallory',
        'baton-agent-id': 'agent-mallory',
        'baton-delegation-mode': 'service_identity',
      };
      const response = await clientFor().fetch('obo-api', 'orders', { headers: forged });
      assert.equal(response.status, 200);
      assert.equal(apiHits.length, 1);
      const { headers } = apiHits[0]!;
      assert.match(String(headers.authorization), /^Bearer downstream-secret-\d+$/);
      // On-behalf-of sends no envelope and no identity hints: the exchanged token speaks for the caller.
      for (const name of Object.keys(forged).filter((name) => name !== 'authorization'))
        assert.equal(headers[name.toLowerCase()], undefined, name);
    });
  });

  describe('a tool cannot take the credentials through fetch options', () => {
    it('an undici dispatcher passed by the tool never sees the request, its token or its envelope', async () => {
      const { clientFor } = setup([
        { name: 'orders-api', url: apiUrl, mode: 'service_identity', scopes: ['orders:read'] },
      ]);
      const seen: unknown[] = [];
      const dispatcher = {
        dispatch(options: unknown) {
          seen.push(options);
          return false;
        },
      };
      const response = await clientFor().fetch('orders-api', 'orders', { dispatcher } as RequestInit);
      assert.equal(response.status, 200);
      assert.deepEqual(seen, [], 'the dispatcher was not used');
      assert.equal(apiHits.length, 1, 'the request went to the service itself');
      assert.equal(evilHits.length, 0);
    });
  });

  describe('redirects are not followed', () => {
    it('returns a 3xx to the tool and never replays the token or envelope to its target', async () => {
      const { audit, clientFor } = setup([
        { name: 'orders-api', url: apiUrl, mode: 'service_identity', scopes: ['orders:read'] },
      ]);
      // Even when the tool asks for redirects to be followed.
      const response = await clientFor().fetch('orders-api', 'moved', { redirect: 'follow' });
      assert.equal(response.status, 302);
      assert.equal(response.headers.get('location'), `${evilUrl}/collect`);
      assert.equal(apiHits.length, 1);
      assert.equal(evilHits.length, 0, 'the redirect target received nothing');
      const event = audit.events.find((candidate) => candidate.action === 'api.call');
      assert.equal(event?.outcome, 'error');
      assert.equal(event?.reason, 'http_302');
    });
  });

  describe('exchanged tokens are keyed by the whole caller identity', () => {
    const services = (): DownstreamService[] => [
      {
        name: 'billing-api',
        url: apiUrl,
        audience: 'http://127.0.0.1/billing-api',
        mode: 'on_behalf_of',
        scopes: ['orders:read'],
      },
    ];

    it('reuses one exchange for the same caller', async () => {
      const { clientFor } = setup(services());
      await clientFor().fetch('billing-api', 'x');
      await clientFor().fetch('billing-api', 'x');
      assert.equal(brokerHits.length, 1);
    });

    it('does not serve a token minted for a wider grant to a narrower caller', async () => {
      const { clientFor } = setup(services());
      await clientFor({ scopes: ['orders:read', 'orders:write'] }).fetch('billing-api', 'x');
      await clientFor({ scopes: ['orders:read'] }).fetch('billing-api', 'x');
      assert.equal(brokerHits.length, 2, 'two broker exchanges, not one cached token');
      assert.notEqual(apiHits[0]!.headers.authorization, apiHits[1]!.headers.authorization);
    });

    it('does not serve a token minted for one delegation chain to another', async () => {
      const { clientFor } = setup(services());
      await clientFor({ chain: [] }).fetch('billing-api', 'x');
      await clientFor({ chain: ['orders-mcp'] }).fetch('billing-api', 'x');
      await clientFor({ chain: ['payroll-mcp', 'orders-mcp'] }).fetch('billing-api', 'x');
      assert.equal(brokerHits.length, 3);
      assert.equal(new Set(apiHits.map((hit) => hit.headers.authorization)).size, 3);
    });

    it('does not serve a token minted for one issuer to a caller from another', async () => {
      const { clientFor } = setup(services());
      await clientFor({ issuer: 'https://idp-a.example' }).fetch('billing-api', 'x');
      await clientFor({ issuer: 'https://idp-b.example' }).fetch('billing-api', 'x');
      assert.equal(brokerHits.length, 2);
    });
  });

  it('a broker refusal ends the call span with the outcome and reason code its audit event records', async () => {
    const { audit, clientFor } = setup([
      {
        name: 'refused-api',
        url: apiUrl,
        audience: 'http://127.0.0.1/refused-api',
        mode: 'on_behalf_of',
        scopes: ['orders:read'],
      },
    ]);
    await rejectsWith(clientFor().fetch('refused-api', 'x'), 'ERR_DOWNSTREAM_TOKEN_REFUSED');
    const [event] = audit.events.filter((candidate) => candidate.action === 'api.call');
    assert.ok(event);
    assert.equal(event.outcome, 'denied');
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'call refused-api');
    assert.ok(span, 'the call span was ended');
    assert.equal(span.attributes['baton.outcome'], event.outcome);
    assert.equal(span.attributes['baton.reason'], event.reason);
    assert.equal(span.spanContext().spanId, event.span_id);
    assert.equal(span.attributes['baton.delegation.mode'], event.delegation_mode);
    assert.equal(apiHits.length, 0, 'no call without a token');
  });

  describe('downstream MCP connect failures', () => {
    it('audits, ends the span and closes the client when the server cannot be reached', async () => {
      const url = `${await deadUrl()}/mcp`;
      const { audit, clientFor } = setup([
        { name: 'billing-mcp', url, mode: 'on_behalf_of', scopes: ['orders:read'] },
      ]);
      const original = Object.getOwnPropertyDescriptor(TracedClient.prototype, 'close');
      let closed = 0;
      const inherited = Object.getPrototypeOf(TracedClient.prototype).close as () => Promise<void>;
      TracedClient.prototype.close = function (this: TracedClient) {
        closed += 1;
        return inherited.call(this);
      };
      try {
        const error = await rejectsWith(clientFor().connect('billing-mcp'), 'ERR_DOWNSTREAM_UNAVAILABLE');
        assert.equal(error.message.includes('downstream-secret'), false, 'no token in the message');
      } finally {
        if (original) Object.defineProperty(TracedClient.prototype, 'close', original);
        else delete (TracedClient.prototype as { close?: unknown }).close;
      }
      assert.equal(brokerHits.length, 1, 'the token was exchanged before connecting');
      const events = audit.events.filter((event) => event.action === 'api.call');
      assert.equal(events.length, 1);
      assert.equal(events[0]!.outcome, 'error');
      assert.equal(events[0]!.reason, 'downstream_unreachable');
      assert.equal(events[0]!.target.name, 'billing-mcp');
      const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'call billing-mcp');
      assert.ok(span, 'the call span was ended');
      assert.equal(span.attributes['baton.outcome'], 'error');
      assert.equal(span.attributes['baton.reason'], 'downstream_unreachable');
      // The SDK may close it on a failed initialize too; closing twice is harmless.
      assert.ok(closed >= 1, 'the client was closed');
      assert.equal(JSON.stringify(audit.events).includes('downstream-secret'), false);
    });
  });
});

describe('shared token store entries that are not tokens', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'baton-hardening-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const [label, value] of [
    ['not JSON', 'this is not json {'],
    ['JSON null', 'null'],
    ['a foreign shape', JSON.stringify({ access_token: 'x', expires_at: 9_999_999_999 })],
    ['a wrongly typed token', JSON.stringify({ accessToken: 42, expiresAt: 9_999_999_999 })],
    ['a wrongly typed expiry', JSON.stringify({ accessToken: 'planted', expiresAt: '9999999999' })],
  ] as const) {
    it(`treats ${label} as a miss and overwrites it`, async () => {
      const vault = createVault({
        keyStore: await FileKeyStore.open({ path: join(dir, `${label.replace(/\W/g, '-')}.json`) }),
        store: new MemoryVaultStore(),
      });
      const store = vaultKeyValue(vault, 'downstream');
      const key = JSON.stringify(['on_behalf_of', 'user-alice', 'https://api.example']);
      await store.set(key, value, 300);
      let obtained = 0;
      const obtain = async () => ({
        accessToken: `fresh-${++obtained}`,
        expiresAt: Math.floor(Date.now() / 1000) + 300,
      });
      const first = new TokenCache({ store });
      assert.equal((await first.get(key, obtain)).accessToken, 'fresh-1');
      assert.equal(obtained, 1);
      assert.deepEqual(
        JSON.parse((await store.get(key))!).accessToken,
        'fresh-1',
        'the entry was overwritten',
      );
      const second = new TokenCache({ store });
      assert.equal((await second.get(key, obtain)).accessToken, 'fresh-1', 'another instance reuses it');
      assert.equal(obtained, 1);
    });
  }
});
