import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  clientCredentialsToken,
  exchangeToken,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
} from '@baton/broker-client';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import {
  type EnvelopeBody,
  EnvelopeError,
  type EnvelopeErrorCode,
  EnvelopeIssuer,
  EnvelopeKeyRing,
} from '@baton/envelope';
import { BearerError, type RefusalReason } from '@baton/resource-server';
import { RevocationList } from '@baton/shared-signals';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { B3Propagator } from '../../audit/test/fixtures/tracing.ts';
import { type DownstreamVerifier, downstreamVerifier, withDownstreamIdentity } from '../src/index.ts';

const MCP = 'http://127.0.0.1:4301/mcp';
const API = 'http://127.0.0.1:4302/api';
const OTHER_API = 'http://127.0.0.1:4303/api';
const TRUST_DOMAIN = 'baton.test';

function body(overrides: Partial<EnvelopeBody['delegation']> = {}): EnvelopeBody {
  return {
    actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
    agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
    session: { id: 's', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    authorization: { scopes: ['orders:read'], confidence: 'medium' },
    delegation: { mode: 'service_identity', allowed: [API], chain: [], ...overrides },
  };
}

describe('downstream verifier', () => {
  let idp: DemoIdp;
  let broker: Broker;
  let service: ServiceCredentials;
  let stranger: ServiceCredentials;
  let ring: EnvelopeKeyRing;
  let envelopes: EnvelopeIssuer;
  let jwksServer: Server;
  let verifier: DownstreamVerifier;

  before(async () => {
    idp = await startDemoIdp({ resources: [{ resource: MCP, scopes: ['orders:read'] }] });
    service = await serviceCredentials('orders-mcp');
    stranger = await serviceCredentials('stranger');
    // Operator-listed services, approved to call the APIs as themselves (service identity) too.
    const client = (credentials: ServiceCredentials) =>
      serviceClientMetadata({
        clientId: credentials.clientId,
        jwks: credentials.jwks,
        resources: [MCP],
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        scopes: ['orders:read'],
      });
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        { resource: API, scopes: ['orders:read'] },
        { resource: OTHER_API, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({
        policies: `@id("orders-mcp-to-apis")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource)
when { ["on_behalf_of", "restricted_user"].contains(context.mode) };

@id("services-as-themselves")
permit (principal, action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" && context.scope == "orders:read" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: new MemoryAuditSink(),
      clients: [client(service), client(stranger)],
      initialAccessToken: 'verifier-test-initial-access-token',
    });
    ring = EnvelopeKeyRing.generate({ retentionSeconds: 900 });
    envelopes = new EnvelopeIssuer({ issuer: MCP, trustDomain: TRUST_DOMAIN, keys: ring });
    jwksServer = createServer((_request, response) => response.end(JSON.stringify(ring.jwks())));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    verifier = downstreamVerifier({
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
    });
  });
  after(async () => {
    jwksServer.close();
    await broker.close();
    await idp.close();
  });

  const serviceToken = async (credentials = service, resource = API) =>
    (await clientCredentialsToken(broker.issuer, credentials, { resource })).access_token;
  const userToken = async () =>
    (
      await obtainUserAccessToken(idp, {
        username: 'alice',
        password: 'alice-demo-pw',
        resource: MCP,
        scope: 'orders:read',
      })
    ).access_token;
  const headers = (entries: Record<string, string>) => new Headers(entries);
  /**
   * Asserts the public refusal (status, RFC 6750 error) and the private reason; for a refused
   * envelope, also the envelope's own code (carried as the cause); where two refusals share a reason,
   * the public description tells them apart. A test cannot pass for a refusal other than its own.
   */
  async function refused(
    promise: Promise<unknown>,
    status: number,
    error: string,
    expected: { reason: RefusalReason; envelope?: EnvelopeErrorCode; description?: RegExp },
  ) {
    await assert.rejects(promise, (thrown: unknown) => {
      assert.ok(thrown instanceof BearerError, 'expected a BearerError');
      assert.equal(thrown.status, status);
      assert.equal(thrown.error, error);
      assert.equal(thrown.reason, expected.reason);
      if (expected.envelope === undefined) {
        assert.ok(!(thrown.cause instanceof EnvelopeError), 'unexpected envelope refusal');
      } else {
        assert.ok(thrown.cause instanceof EnvelopeError, 'expected the envelope refusal as the cause');
        assert.equal(thrown.cause.code, expected.envelope);
      }
      if (expected.description) assert.match(thrown.description, expected.description);
      return true;
    });
  }

  it('service identity: the envelope names the person and agent, the token the calling service', async () => {
    const identity = await verifier.verify(
      headers({ authorization: `Bearer ${await serviceToken()}`, 'txn-token': envelopes.mint(body()).token }),
      ['orders:read'],
    );
    // The span id the call's audit event records (its OpenTelemetry span's, when tracing is on).
    assert.match(identity.spanId, /^[0-9a-f]{16}$/);
    assert.deepEqual(
      { ...identity },
      {
        spanId: identity.spanId,
        user: 'user-alice',
        tenant: 'acme',
        agent: 'agent-1',
        chain: ['orders-mcp', 'agent-1'],
        mode: 'service_identity',
        scopes: ['orders:read'],
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      },
    );
    // The handler holds it while its audit record is still to be written: a tool cannot rewrite the chain.
    assert.throws(() => (identity.chain as string[]).push('someone-else'), TypeError);
    assert.ok(Object.isFrozen(identity.scopes));
  });

  it('on-behalf-of: the exchanged token names the person, the agent and the services in act', async () => {
    const exchanged = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken(),
      resource: API,
      scope: ['orders:read'],
    });
    const identity = await verifier.verify(headers({ authorization: `Bearer ${exchanged.access_token}` }));
    assert.equal(identity.user, 'user-alice');
    assert.equal(identity.mode, 'on_behalf_of');
    assert.equal(identity.chain[0], 'orders-mcp');
    assert.equal(identity.chain.length, 2);
    assert.equal(identity.agent, identity.chain[1]);
  });

  it('restricted user: no act, the person only', async () => {
    const exchanged = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken(),
      resource: API,
      delegationMode: 'restricted_user',
    });
    const identity = await verifier.verify(headers({ authorization: `Bearer ${exchanged.access_token}` }));
    assert.equal(identity.mode, 'restricted_user');
    assert.deepEqual(identity.chain, ['orders-mcp']);
  });

  it('trace injection, service identity: the signed envelope decides the trace; a traceparent naming another trace is only a link', async () => {
    const foreign = `00-${'9'.repeat(32)}-${'8'.repeat(16)}-01`;
    const identity = await verifier.verify(
      headers({
        authorization: `Bearer ${await serviceToken()}`,
        'txn-token': envelopes.mint(body()).token,
        traceparent: foreign,
      }),
    );
    assert.equal(identity.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(identity.parentSpanId, undefined);
    assert.deepEqual(identity.linkedTrace, { trace_id: '9'.repeat(32), span_id: '8'.repeat(16) });
    assert.ok(Object.isFrozen(identity.linkedTrace));
    const sameTrace = await verifier.verify(
      headers({
        authorization: `Bearer ${await serviceToken()}`,
        'txn-token': envelopes.mint(body()).token,
        traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-${'7'.repeat(16)}-01`,
      }),
    );
    assert.equal(sameTrace.parentSpanId, '7'.repeat(16));
    assert.equal(sameTrace.linkedTrace, undefined);
  });

  it("trace injection, restricted user: a token without a delegation chain cannot file the call under another person's trace", async () => {
    const exchanged = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken(),
      resource: API,
      delegationMode: 'restricted_user',
    });
    const identity = await verifier.verify(
      headers({
        authorization: `Bearer ${exchanged.access_token}`,
        traceparent: `00-${'9'.repeat(32)}-${'8'.repeat(16)}-01`,
      }),
    );
    assert.notEqual(identity.traceId, '9'.repeat(32));
    assert.deepEqual(identity.linkedTrace, { trace_id: '9'.repeat(32), span_id: '8'.repeat(16) });
  });

  it('refuses a token the broker issued for another API', async () => {
    const exchanged = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken(),
      resource: OTHER_API,
    });
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${exchanged.access_token}` })),
      401,
      'invalid_token',
      { reason: 'audience_invalid', description: /not issued for this resource/ },
    );
  });

  it('refuses a service-identity call without its Txn-Token', async () => {
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${await serviceToken()}` })),
      401,
      'invalid_token',
      { reason: 'claims_invalid', description: /must carry its Txn-Token/ },
    );
  });

  it('refuses an envelope replayed at an API it does not allow (wrong place)', async () => {
    const envelope = envelopes.mint(body({ allowed: [OTHER_API] })).token;
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${await serviceToken()}`, 'txn-token': envelope })),
      401,
      'invalid_token',
      { reason: 'audience_invalid', description: /does not allow calls to this API/ },
    );
  });

  it('reads delegation.allowed by the one resource rule: this API with a trailing slash is allowed', async () => {
    const identity = await verifier.verify(
      headers({
        authorization: `Bearer ${await serviceToken()}`,
        'txn-token': envelopes.mint(body({ allowed: [`${API}/`] })).token,
      }),
    );
    assert.equal(identity.user, 'user-alice');
  });

  it('refuses an envelope that allows only a case variant of this API (another resource)', async () => {
    const envelope = envelopes.mint(body({ allowed: [API.replace('/api', '/API')] })).token;
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${await serviceToken()}`, 'txn-token': envelope })),
      401,
      'invalid_token',
      { reason: 'audience_invalid', description: /does not allow calls to this API/ },
    );
  });

  it('refuses an envelope from another trust domain', async () => {
    // Signed with the trusted key ring and issuer: only the trust domain is wrong.
    const foreign = new EnvelopeIssuer({ issuer: MCP, trustDomain: 'other.domain', keys: ring });
    await refused(
      verifier.verify(
        headers({ authorization: `Bearer ${await serviceToken()}`, 'txn-token': foreign.mint(body()).token }),
      ),
      401,
      'invalid_token',
      { reason: 'claims_invalid', envelope: 'ERR_ENVELOPE_TRUST_DOMAIN_INVALID' },
    );
  });

  it('refuses an expired envelope', async () => {
    // Signed with the trusted key ring, issuer and trust domain: only the expiry is wrong.
    const stale = new EnvelopeIssuer({
      issuer: MCP,
      trustDomain: TRUST_DOMAIN,
      keys: ring,
      now: () => Math.floor(Date.now() / 1000) - 3600,
    });
    await refused(
      verifier.verify(
        headers({ authorization: `Bearer ${await serviceToken()}`, 'txn-token': stale.mint(body()).token }),
      ),
      401,
      'invalid_token',
      { reason: 'claims_invalid', envelope: 'ERR_ENVELOPE_EXPIRED' },
    );
  });

  it('refuses a forged or altered envelope', async () => {
    const forger = new EnvelopeIssuer({
      issuer: MCP,
      trustDomain: TRUST_DOMAIN,
      keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
    });
    const token = await serviceToken();
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${token}`, 'txn-token': forger.mint(body()).token })),
      401,
      'invalid_token',
      { reason: 'claims_invalid', envelope: 'ERR_ENVELOPE_KEY_UNKNOWN' },
    );
    const [h, p, s] = envelopes.mint(body()).token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    claims.actor.sub = 'user-bob';
    claims.sub = 'user-bob';
    const altered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await refused(
      verifier.verify(headers({ authorization: `Bearer ${token}`, 'txn-token': altered })),
      401,
      'invalid_token',
      { reason: 'claims_invalid', envelope: 'ERR_ENVELOPE_SIGNATURE_INVALID' },
    );
  });

  it('refuses a service that is not trusted to call as itself, even with a valid envelope', async () => {
    await refused(
      verifier.verify(
        headers({
          authorization: `Bearer ${await serviceToken(stranger)}`,
          'txn-token': envelopes.mint(body()).token,
        }),
      ),
      401,
      'invalid_token',
      { reason: 'claims_invalid', description: /not trusted to call as itself/ },
    );
  });

  it('answers a missing scope with 403 insufficient_scope', async () => {
    await refused(
      verifier.verify(
        headers({
          authorization: `Bearer ${await serviceToken()}`,
          'txn-token': envelopes.mint(body()).token,
        }),
        ['orders:write'],
      ),
      403,
      'insufficient_scope',
      { reason: 'scope_insufficient' },
    );
  });

  it('serves a fetch-style handler only for verified calls, and audits them in the caller trace', async () => {
    const audit = new MemoryAuditSink();
    const handler = withDownstreamIdentity(
      { verifier, requiredScopes: ['orders:read'], audit },
      (_request, identity) => Response.json({ user: identity.user }),
    );
    const denied = await handler(new Request(`${API}/orders`));
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
    const ok = await handler(
      new Request(`${API}/orders`, {
        headers: {
          authorization: `Bearer ${await serviceToken()}`,
          'txn-token': envelopes.mint(body()).token,
        },
      }),
    );
    assert.deepEqual(await ok.json(), { user: 'user-alice' });
    assert.equal(audit.events.length, 1);
    assert.equal(audit.events[0]?.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.deepEqual(audit.events[0]?.chain, ['orders-mcp', 'agent-1']);
  });

  it('OpenTelemetry: a verified call is a span whose ids the audit records; a refused call is an error span with its reason, never the token', async () => {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    // The broker runs in this process too: only the verifier's spans.
    const verifySpans = () => exporter.getFinishedSpans().filter((each) => each.name === 'verify');
    try {
      const exchanged = await exchangeToken(broker.issuer, service, {
        subjectToken: await userToken(),
        resource: API,
        scope: ['orders:read'],
      });
      exporter.reset();
      const audit = new MemoryAuditSink();
      const handle = withDownstreamIdentity({ verifier, audit }, () => Response.json({ ok: true }));
      // An upstream hop (the token carries the chain) continues its trace.
      const joined = await handle(
        new Request(`${API}/orders`, {
          headers: {
            authorization: `Bearer ${exchanged.access_token}`,
            traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
          },
        }),
      );
      assert.equal(joined.status, 200);
      const [span] = verifySpans();
      assert.ok(span, 'the verified call has a span');
      const event = audit.events[0]!;
      assert.equal(event.trace_id, span.spanContext().traceId);
      assert.equal(event.span_id, span.spanContext().spanId);
      assert.equal(event.parent_span_id, span.parentSpanContext?.spanId);
      assert.equal(span.parentSpanContext?.spanId, '2'.repeat(16));
      assert.equal(span.attributes['baton.delegation.mode'], event.delegation_mode);
      assert.equal(span.attributes['enduser.id'], 'user-alice');
      exporter.reset();

      // No traceparent: the span's fresh trace is the audit's.
      const restricted = await exchangeToken(broker.issuer, service, {
        subjectToken: await userToken(),
        resource: API,
        delegationMode: 'restricted_user',
      });
      const fresh = await verifier.verify(headers({ authorization: `Bearer ${restricted.access_token}` }));
      const [freshSpan] = verifySpans();
      assert.ok(freshSpan);
      assert.equal(fresh.traceId, freshSpan.spanContext().traceId);
      assert.equal(fresh.spanId, freshSpan.spanContext().spanId);
      assert.equal(freshSpan.parentSpanContext, undefined);
      exporter.reset();

      // Service identity without a traceparent in its envelope's trace: the audit keeps the signed trace,
      // the span shares the span id and names that trace.
      const asService = await verifier.verify(
        headers({
          authorization: `Bearer ${await serviceToken()}`,
          'txn-token': envelopes.mint(body()).token,
        }),
      );
      const [serviceSpan] = verifySpans();
      assert.ok(serviceSpan);
      assert.equal(asService.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(asService.spanId, serviceSpan.spanContext().spanId);
      assert.equal(serviceSpan.attributes['baton.audit.trace_id'], asService.traceId);
      exporter.reset();

      const forged = `${exchanged.access_token.slice(0, -4)}AAAA`;
      await refused(verifier.verify(headers({ authorization: `Bearer ${forged}` })), 401, 'invalid_token', {
        reason: 'signature_invalid',
      });
      const [refusal] = verifySpans();
      assert.ok(refusal, 'the refusal has a span');
      assert.equal(refusal.status.code, SpanStatusCode.ERROR);
      assert.equal(refusal.attributes['baton.reason'], 'signature_invalid');
      const exported = JSON.stringify([span, freshSpan, refusal].map((each) => each.attributes));
      for (const secret of [exchanged.access_token, restricted.access_token, forged])
        assert.equal(exported.includes(secret), false);
    } finally {
      trace.disable();
    }
  });

  it('trace injection through a B3 header: a caller without a chain cannot file the call under the trace the host span took from it', async () => {
    const attackerTrace = 'deadbeef'.repeat(4);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    propagation.setGlobalPropagator(new B3Propagator());
    try {
      const restricted = await exchangeToken(broker.issuer, service, {
        subjectToken: await userToken(),
        resource: API,
        delegationMode: 'restricted_user',
      });
      const incoming = headers({
        authorization: `Bearer ${restricted.access_token}`,
        b3: `${attackerTrace}-00f067aa0ba902b7-1`,
      });
      // As HTTP instrumentation would with B3 configured: the host's server span continues the caller's.
      const remote = propagation.extract(context.active(), incoming, {
        get: (carrier, key) => carrier.get(key) ?? undefined,
        keys: (carrier) => [...carrier.keys()],
      });
      const hostSpan = trace.getTracer('host-http').startSpan('GET /api', {}, remote);
      assert.equal(hostSpan.spanContext().traceId, attackerTrace);
      const identity = await context.with(trace.setSpan(remote, hostSpan), () => verifier.verify(incoming));
      hostSpan.end();
      assert.notEqual(identity.traceId, attackerTrace, 'the caller chose the audit trace id');
      assert.equal(identity.parentSpanId, undefined);
    } finally {
      propagation.disable();
      trace.disable();
      context.disable();
    }
  });

  describe('revocations received from the broker', () => {
    const audit = new MemoryAuditSink();
    let revocations: RevocationList;
    let revoking: DownstreamVerifier;
    let handler: (request: Request) => Promise<Response>;

    // A list of its own for each case: a lift keeps refusing what was issued before it.
    beforeEach(() => {
      revocations = new RevocationList();
      revoking = downstreamVerifier({
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
        revocations,
      });
      handler = withDownstreamIdentity({ verifier: revoking, audit }, async (_request, identity) =>
        Response.json({ user: identity.user }),
      );
    });

    const call = (authorization: string, more: Record<string, string> = {}) =>
      handler(new Request(`${API}/orders`, { headers: { authorization, ...more } }));

    it('an on-behalf-of token is refused once its person is offboarded, with 401 invalid_token, audited', async () => {
      const exchanged = await exchangeToken(broker.issuer, service, {
        subjectToken: await userToken(),
        resource: API,
        scope: ['orders:read'],
      });
      const authorization = `Bearer ${exchanged.access_token}`;
      assert.equal((await call(authorization)).status, 200);
      revocations.add([{ kind: 'subject', value: 'user-alice' }]);
      try {
        const answer = await call(authorization);
        assert.equal(answer.status, 401);
        assert.match(answer.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        const event = audit.events.at(-1)!;
        assert.equal(event.outcome, 'denied');
        assert.equal(event.reason, 'subject_revoked');
        assert.equal(event.initiator.sub, 'user-alice');
        assert.equal(event.chain?.[0], 'orders-mcp');
        assert.ok(!JSON.stringify(audit.events).includes(exchanged.access_token));
      } finally {
        revocations.lift([{ kind: 'subject', value: 'user-alice' }]);
      }
      assert.equal(
        (await call(authorization)).status,
        401,
        'enabled again: a token from before stays refused',
      );
    });

    it("service identity: the envelope's person is checked too, though the token is the service's own", async () => {
      const authorization = `Bearer ${await serviceToken()}`;
      const envelope = { 'txn-token': envelopes.mint(body()).token };
      assert.equal((await call(authorization, envelope)).status, 200);
      revocations.add([{ kind: 'subject', value: 'user-alice' }]);
      try {
        assert.equal((await call(authorization, { 'txn-token': envelopes.mint(body()).token })).status, 401);
        assert.equal(audit.events.at(-1)!.reason, 'subject_revoked');
      } finally {
        revocations.lift([{ kind: 'subject', value: 'user-alice' }]);
      }
    });

    it('service identity: a compromised agent named in the envelope stops the call', async () => {
      revocations.add([{ kind: 'client', value: 'agent-1' }]);
      try {
        const answer = await call(`Bearer ${await serviceToken()}`, {
          'txn-token': envelopes.mint(body()).token,
        });
        assert.equal(answer.status, 401);
        assert.equal(audit.events.at(-1)!.reason, 'client_revoked');
      } finally {
        revocations.lift([{ kind: 'client', value: 'agent-1' }]);
      }
    });

    it('a stale feed fails closed (503 temporarily_unavailable), and one that falls back to introspection never settles an envelope’s person by the service’s own token', async () => {
      const introspected: string[] = [];
      const stale = {
        check: () => ({ reason: 'revocation_feed_stale' as const, fallback: 'introspect' as const }),
        introspect: async (token: string) => {
          introspected.push(token);
          return true;
        },
      };
      const verifying = downstreamVerifier({
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
        revocations: stale,
      });
      const serve = withDownstreamIdentity({ verifier: verifying, audit }, async () => Response.json({}));
      const serviceAuthorization = `Bearer ${await serviceToken()}`;
      const answer = await serve(
        new Request(`${API}/orders`, {
          headers: { authorization: serviceAuthorization, 'txn-token': envelopes.mint(body()).token },
        }),
      );
      assert.equal(answer.status, 503);
      assert.equal(((await answer.json()) as { error: string }).error, 'temporarily_unavailable');
      assert.equal(audit.events.at(-1)!.reason, 'revocation_status_unknown');
      assert.equal(introspected.length, 1, 'the service token is introspected once, the envelope never');
      // An on-behalf-of token the authorization server vouches for passes.
      const exchanged = await exchangeToken(broker.issuer, service, {
        subjectToken: await userToken(),
        resource: API,
        scope: ['orders:read'],
      });
      const vouched = await serve(
        new Request(`${API}/orders`, { headers: { authorization: `Bearer ${exchanged.access_token}` } }),
      );
      assert.equal(vouched.status, 200);
    });
  });
});

describe('downstream verifier as Express middleware', () => {
  it('sets req.baton for verified calls, answers refusals with the challenge, and audits', async () => {
    const express = (await import('express')).default;
    const { downstreamIdentity } = await import('../src/express.ts');
    const { startDemoIdp: start } = await import('@baton/demo-idp');
    const idp = await start({ resources: [{ resource: MCP, scopes: ['orders:read'] }] });
    const credentials = await serviceCredentials('orders-mcp');
    const broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [{ resource: API, scopes: ['orders:read'] }],
      policy: createCedarPolicyEngine({
        policies: '@id("all") permit (principal, action, resource) when { context.mode == "on_behalf_of" };',
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: new MemoryAuditSink(),
      clients: [
        serviceClientMetadata({
          clientId: 'orders-mcp',
          jwks: credentials.jwks,
          resources: [MCP],
          grantTypes: [TOKEN_EXCHANGE_GRANT],
        }),
      ],
      initialAccessToken: 'express-test-initial-access-token',
    });
    const audit = new MemoryAuditSink();
    const app = express();
    const verifier = downstreamVerifier({ audience: API, broker: { issuer: broker.issuer } });
    app.get(
      '/api/orders',
      downstreamIdentity({ verifier, requiredScopes: ['orders:read'], audit }),
      (req, res) => {
        res.json({ user: req.baton!.user, mode: req.baton!.mode });
      },
    );
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/orders`;
    try {
      const refused = await fetch(url);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer scope="orders:read"/);
      const user = await obtainUserAccessToken(idp, {
        username: 'alice',
        password: 'alice-demo-pw',
        resource: MCP,
        scope: 'orders:read',
      });
      const exchanged = await exchangeToken(broker.issuer, credentials, {
        subjectToken: user.access_token,
        resource: API,
      });
      const traceId = '11111111111111111111111111111111';
      const ok = await fetch(url, {
        headers: {
          authorization: `Bearer ${exchanged.access_token}`,
          traceparent: `00-${traceId}-2222222222222222-01`,
        },
      });
      assert.deepEqual(await ok.json(), { user: 'user-alice', mode: 'on_behalf_of' });
      // Written before the answer left: no waiting for `finish`.
      assert.equal(audit.events.length, 1);
      assert.equal(audit.events[0]?.trace_id, traceId);
      assert.equal(audit.events[0]?.parent_span_id, '2222222222222222');
      assert.equal(audit.events[0]?.target.name, 'GET /api/orders');
    } finally {
      server.close();
      await broker.close();
      await idp.close();
    }
  });
});

describe('downstream verifier options', () => {
  it('refuses a JWKS cache age that is not a positive number of seconds', () => {
    for (const envelopeJwksCacheMaxAgeSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () =>
          downstreamVerifier({
            audience: API,
            broker: { issuer: 'http://127.0.0.1:9' },
            serviceIdentity: {
              trustDomain: TRUST_DOMAIN,
              callers: [
                {
                  clientId: 'orders-mcp',
                  envelopeIssuer: MCP,
                  envelopeJwksUri: 'http://127.0.0.1:9/jwks',
                  envelopeJwksCacheMaxAgeSeconds,
                },
              ],
            },
          }),
        TypeError,
      );
    }
  });
});
