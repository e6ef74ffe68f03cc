import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  clientCredentialsToken,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
} from '@baton/broker-client';
import { type EnvelopeBody, EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import {
  downstreamVerifier,
  VERIFIER_SERIES,
  VerifierOperations,
  withDownstreamIdentity,
} from '../src/index.ts';

const MCP = 'http://127.0.0.1:4311/mcp';
const API = 'http://127.0.0.1:4312/api';
const OTHER_API = 'http://127.0.0.1:4313/api';
const TRUST_DOMAIN = 'baton.test';

const body = (sub: string): EnvelopeBody => ({
  actor: { type: 'user', sub, tenant: 'acme' },
  agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
  session: { id: 's', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
  authorization: { scopes: ['orders:read'], confidence: 'medium' },
  delegation: { mode: 'service_identity', allowed: [API], chain: [] },
});

describe('downstream verifier operations (opt-in)', () => {
  let broker: Broker;
  let service: ServiceCredentials;
  let envelopes: EnvelopeIssuer;
  let jwksServer: Server;
  let operations: VerifierOperations;
  let handler: (request: Request) => Promise<Response>;

  before(async () => {
    service = await serviceCredentials('orders-mcp');
    broker = await startBroker({
      trustedIssuers: [],
      audiences: [
        { resource: API, scopes: ['orders:read'] },
        { resource: OTHER_API, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({
        policies: `@id("services-as-themselves")
permit (principal, action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" && context.scope == "orders:read" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: new MemoryAuditSink(),
      clients: [
        serviceClientMetadata({
          clientId: service.clientId,
          jwks: service.jwks,
          resources: [MCP],
          grantTypes: ['client_credentials'],
          scopes: ['orders:read'],
        }),
      ],
      initialAccessToken: 'verifier-operations-initial-access-token',
    });
    const ring = EnvelopeKeyRing.generate({ retentionSeconds: 900 });
    envelopes = new EnvelopeIssuer({ issuer: MCP, trustDomain: TRUST_DOMAIN, keys: ring });
    jwksServer = createServer((_request, response) => response.end(JSON.stringify(ring.jwks())));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    operations = new VerifierOperations();
    const verifier = operations.instrument(
      downstreamVerifier({
        audience: API,
        broker: { issuer: broker.issuer },
        serviceIdentity: {
          trustDomain: TRUST_DOMAIN,
          callers: [
            {
              clientId: 'orders-mcp',
              envelopeIssuer: MCP,
              envelopeJwksUri: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`,
            },
          ],
        },
      }),
    );
    handler = withDownstreamIdentity(
      { verifier, requiredScopes: ['orders:read'] },
      async (_request, identity) => Response.json({ user: identity.user }),
    );
  });
  after(async () => {
    jwksServer.close();
    await broker.close();
  });

  const call = (headers: Record<string, string>) => handler(new Request(`${API}/orders`, { headers }));

  it('counts verified and refused calls by RFC error and reason; no subject, client or token in the scrape', async () => {
    const token = (resource: string) =>
      clientCredentialsToken(broker.issuer, service, { resource }).then((answer) => answer.access_token);
    const used: string[] = [];
    for (const sub of ['user-alice', 'user-bob']) {
      const access = await token(API);
      const envelope = envelopes.mint(body(sub)).token;
      used.push(access, envelope);
      const response = await call({ authorization: `Bearer ${access}`, 'txn-token': envelope });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).user, sub);
    }
    const missing = await call({});
    assert.equal(missing.status, 401);
    const elsewhere = await token(OTHER_API);
    used.push(elsewhere);
    const wrongAudience = await call({
      authorization: `Bearer ${elsewhere}`,
      'txn-token': envelopes.mint(body('user-alice')).token,
    });
    assert.equal(wrongAudience.status, 401);

    const text = await (await operations.fetch(new Request(`${API.replace('/api', '')}/metrics`)))!.text();
    for (const series of VERIFIER_SERIES) assert.match(text, new RegExp(`^# TYPE ${series} `, 'm'));
    assert.match(text, /^baton_verifier_verifications_total\{outcome="ok",error="none",reason="none"\} 2$/m);
    assert.match(
      text,
      /^baton_verifier_verifications_total\{outcome="refused",error="invalid_token",reason="audience_invalid"\} 1$/m,
    );
    assert.match(
      text,
      /^baton_verifier_verifications_total\{outcome="refused",error="[a-z_]+",reason="[a-z_]+"\} 1$/m,
    );
    for (const secret of [...used, 'user-alice', 'user-bob', 'orders-mcp', 'agent-1']) {
      assert.equal(text.includes(secret), false, `the scrape contains ${secret.slice(0, 12)}…`);
    }
  });

  it("/healthz and /readyz answer on its paths only; other paths are the API's", async () => {
    assert.equal((await operations.fetch(new Request('http://127.0.0.1/healthz')))!.status, 200);
    assert.equal((await operations.fetch(new Request('http://127.0.0.1/readyz')))!.status, 200);
    assert.equal(await operations.fetch(new Request('http://127.0.0.1/api/orders')), undefined);
    const failing = new VerifierOperations({
      readiness: [
        {
          name: 'orders_db',
          check: () => Promise.reject(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })),
        },
      ],
    });
    const response = (await failing.fetch(new Request('http://127.0.0.1/readyz')))!;
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), {
      status: 'not_ready',
      checks: [{ name: 'orders_db', ok: false, error: 'ECONNREFUSED' }],
    });
  });
});
