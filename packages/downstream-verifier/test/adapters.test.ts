import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  exchangeToken,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
} from '@baton/broker-client';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { reaches } from '../../mcp-server/test/fixtures/leaks.ts';
import { rawRequest } from '../../resource-server/test/fixtures/raw-http.ts';
import { type DownstreamIdentity, downstreamVerifier } from '../src/index.ts';
import { ADAPTERS, type Api } from './fixtures/adapters.ts';

/**
 * The adapter conformance suite: the same cases through every adapter of the downstream verifier
 * (fetch, node:http, Express, Hono), over real HTTP with a real IdP and broker. Adapters only
 * translate, so every adapter must answer alike.
 */

const MCP = 'http://127.0.0.1:4301/mcp';
const API = 'http://127.0.0.1:4302/api';

/**
 * An audit sink whose writes fail while `failing` is set (a full disk, a lost database), and take
 * `delayMs` (a remote store) so that an answer sent before the write completes shows.
 */
class SwitchableAuditSink extends MemoryAuditSink {
  failing = false;
  delayMs = 0;
  override async write(event: AuditEvent): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failing) throw new Error('audit store unavailable');
    await super.write(event);
  }
}

let idp: DemoIdp;
let broker: Broker;
let service: ServiceCredentials;
let token: string;

before(async () => {
  idp = await startDemoIdp({ resources: [{ resource: MCP, scopes: ['orders:read'] }] });
  service = await serviceCredentials('orders-mcp');
  broker = await startBroker({
    trustedIssuers: [{ issuer: idp.issuer }],
    audiences: [{ resource: API, scopes: ['orders:read', 'orders:write'] }],
    policy: createCedarPolicyEngine({
      policies: '@id("all") permit (principal, action, resource) when { context.mode == "on_behalf_of" };',
      defaults: { lifetimeSeconds: 300, maxDepth: 3 },
    }),
    audit: new MemoryAuditSink(),
    clients: [
      serviceClientMetadata({
        clientId: service.clientId,
        jwks: service.jwks,
        resources: [MCP],
        grantTypes: [TOKEN_EXCHANGE_GRANT],
      }),
    ],
    initialAccessToken: 'adapters-test-initial-access-token',
  });
  const user = await obtainUserAccessToken(idp, {
    username: 'alice',
    password: 'alice-demo-pw',
    resource: MCP,
    scope: 'orders:read',
  });
  token = (
    await exchangeToken(broker.issuer, service, {
      subjectToken: user.access_token,
      resource: API,
      scope: ['orders:read'],
    })
  ).access_token;
});
after(async () => {
  await broker?.close();
  await idp?.close();
});

for (const { name, mount } of ADAPTERS) {
  describe(`downstream verifier adapter conformance: ${name}`, () => {
    let server: Server;
    let origin: string;
    const audit = new SwitchableAuditSink();
    const seen: DownstreamIdentity[] = [];
    const logged: unknown[] = [];
    const reported: Error[] = [];

    before(async () => {
      const api: Api = {
        routes: [
          { path: '/api/orders', requiredScopes: ['orders:read'] },
          { path: '/api/orders/new', requiredScopes: ['orders:read', 'orders:write'] },
          { path: '/api/boom', requiredScopes: [] },
        ],
        options: {
          verifier: downstreamVerifier({ audience: API, broker: { issuer: broker.issuer } }),
          audit,
          onerror: (error) => reported.push(error),
          logger: { warn: (...args) => logged.push(args) },
        },
        answer(identity, path) {
          seen.push(identity);
          if (path === '/api/boom') throw new Error('the handler failed');
          return {
            status: 200,
            body: { user: identity.user, mode: identity.mode },
            headers: { 'x-handler': 'ran', 'set-cookie': 'session=handler-issued' },
          };
        },
      };
      server = createServer();
      mount(server, api);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const call = (path: string, bearer?: string, headers: Record<string, string> = {}) =>
      fetch(`${origin}${path}`, {
        headers: { ...headers, ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }) },
      });
    /** The events and identities a step adds, and what it answered. */
    async function step(run: () => Promise<Response>) {
      const events = audit.events.length;
      const identities = seen.length;
      const response = await run();
      const text = await response.text();
      return {
        response,
        text,
        events: audit.events.slice(events),
        identities: seen.slice(identities),
      };
    }

    it('delivers the identity from the token to the handler and audits the served call once, before answering', async () => {
      const traceId = '11111111111111111111111111111111';
      audit.delayMs = 100;
      const served = await step(() =>
        call('/api/orders', token, { traceparent: `00-${traceId}-2222222222222222-01` }),
      ).finally(() => {
        audit.delayMs = 0;
      });
      assert.equal(served.response.status, 200);
      assert.deepEqual(JSON.parse(served.text), { user: 'user-alice', mode: 'on_behalf_of' });
      assert.equal(served.response.headers.get('x-handler'), 'ran');
      assert.equal(served.identities.length, 1);
      const [identity] = served.identities;
      assert.equal(identity?.user, 'user-alice');
      assert.equal(identity?.mode, 'on_behalf_of');
      assert.deepEqual(identity?.chain, ['orders-mcp', identity?.agent]);
      assert.deepEqual(identity?.scopes, ['orders:read']);
      // Written before the answer left (the write takes 100 ms here): no waiting for `finish`.
      assert.equal(served.events.length, 1);
      const [event] = served.events;
      assert.equal(event?.action, 'api.call');
      assert.equal(event?.outcome, 'ok');
      assert.equal(event?.target.name, 'GET /api/orders');
      assert.equal(event?.initiator.sub, 'user-alice');
      assert.equal(event?.trace_id, traceId);
      assert.equal(event?.parent_span_id, '2222222222222222');
    });

    it('refuses a call without a token with 401 and the challenge; the handler does not run', async () => {
      const refused = await step(() => call('/api/orders'));
      assert.equal(refused.response.status, 401);
      assert.match(refused.response.headers.get('www-authenticate') ?? '', /^Bearer scope="orders:read"/);
      assert.equal(refused.response.headers.get('x-handler'), null);
      assert.deepEqual(refused.identities, []);
      assert.deepEqual(refused.events, [], 'refusals are answered, not audited, by this verifier');
    });

    it('refuses a token whose signature was altered with 401 invalid_token; the handler does not run', async () => {
      const [header, payload, signature] = token.split('.');
      const forged = `${header}.${payload}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
      const refused = await step(() => call('/api/orders', forged));
      assert.equal(refused.response.status, 401);
      assert.match(refused.response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      assert.equal(JSON.parse(refused.text).error, 'invalid_token');
      assert.deepEqual(refused.identities, []);
    });

    it('answers a token lacking the route scopes with 403 insufficient_scope and the step-up challenge; the handler does not run', async () => {
      const refused = await step(() => call('/api/orders/new', token));
      assert.equal(refused.response.status, 403);
      const challenge = refused.response.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="orders:read orders:write"/);
      assert.equal(JSON.parse(refused.text).error, 'insufficient_scope');
      assert.deepEqual(refused.identities, []);
    });

    it('refuses an attacker who sends two Authorization headers (4xx); neither token is verified for the handler', async () => {
      const identities = seen.length;
      const events = audit.events.length;
      const { port } = server.address() as AddressInfo;
      const response = await rawRequest(
        port,
        [
          'GET /api/orders HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          // Node keeps only the first: an adapter reading `headers` alone would serve this call.
          `Authorization: Bearer ${token}`,
          'Authorization: Bearer smuggled',
          'Connection: close',
          '',
          '',
        ].join('\r\n'),
      );
      assert.ok(response.status === 400 || response.status === 401, `status ${response.status}`);
      assert.match(response.headers.get('www-authenticate')?.[0] ?? '', /^Bearer /);
      assert.equal(seen.length, identities, 'the handler did not run');
      assert.equal(audit.events.length, events);
    });

    it('fails the call when the audit record cannot be written: 500, nothing of the handler answer reaches the client', async () => {
      audit.failing = true;
      const before = reported.length;
      try {
        const failed = await step(() => call('/api/orders', token));
        assert.equal(failed.response.status, 500);
        assert.equal(JSON.parse(failed.text).error, 'server_error');
        assert.doesNotMatch(failed.text, /user-alice/);
        assert.equal(failed.response.headers.get('x-handler'), null);
        assert.equal(failed.response.headers.get('set-cookie'), null);
        assert.deepEqual(failed.events, []);
        assert.deepEqual(
          reported.slice(before).map((error) => error.message),
          ['audit store unavailable'],
          'the operator is told',
        );
      } finally {
        audit.failing = false;
      }
    });

    it('answers a handler that throws with a 5xx, audited once as an error', async () => {
      const failed = await step(() => call('/api/boom', token));
      assert.ok(failed.response.status >= 500, `status ${failed.response.status}`);
      assert.doesNotMatch(failed.text, /user-alice/);
      assert.equal(failed.events.length, 1);
      assert.equal(failed.events[0]?.outcome, 'error');
      assert.equal(failed.events[0]?.reason, 'http_500');
    });

    it('records one audit event per call, each its own span, under concurrency', async () => {
      const served = await step(async () => {
        const answers = await Promise.all(Array.from({ length: 5 }, () => call('/api/orders', token)));
        for (const answer of answers) assert.equal(answer.status, 200);
        return answers[0]!;
      });
      assert.equal(served.events.length, 5);
      assert.equal(new Set(served.events.map((event) => event.span_id)).size, 5);
    });

    it("keeps the token out of the handler's identity, the audit record and the logs", async () => {
      await call('/api/orders', token);
      const signature = token.split('.')[2]!;
      for (const secret of [token, signature]) {
        assert.equal(reaches(seen, secret), undefined, 'identity');
        assert.equal(reaches(audit.events, secret), undefined, 'audit');
        assert.equal(reaches(logged, secret), undefined, 'logs');
        assert.equal(reaches(reported, secret), undefined, 'errors reported');
      }
      assert.ok(seen.length > 0 && audit.events.length > 0, 'calls were served and audited');
    });
  });
}
