import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import {
  type EnvelopeBody,
  EnvelopeError,
  EnvelopeIssuer,
  EnvelopeKeyRing,
  type MintedEnvelope,
} from '@baton/envelope';
import type { AccessTokenVerifier } from '@baton/resource-server';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { IdentityBoundary } from '../src/index.ts';
import { buildOrdersServer, type Observation } from './fixtures/orders.ts';
import { type RefusalProbe, refusalProbe, TOOL_CALL } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/** `depth` nested actors, outermost first; the innermost is the agent. */
function actChain(depth: number): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (let index = depth - 1; index >= 0; index--) {
    act = { sub: index === depth - 1 ? 'agent-innermost' : `service-${index}`, ...(act ? { act } : {}) };
  }
  return act;
}

describe('the boundary serves its metadata at the path it matches', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  for (const suffix of ['', '/']) {
    // A timeout: before the fix the boundary answered `undefined` here and the request hung.
    it(`answers GET ${suffix ? 'with' : 'without'} a trailing slash with 200 and the RFC 9728 document`, {
      timeout: 10_000,
    }, async () => {
      const response = await fetch(`${stack.boundary.resourceMetadataUrl}${suffix}`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const document = (await response.json()) as Record<string, unknown>;
      assert.equal(document.resource, stack.resource);
      assert.deepEqual(document.authorization_servers, [stack.idp.issuer]);
    });
  }

  it('answers a CORS preflight on the trailing-slash path with 204', { timeout: 10_000 }, async () => {
    const response = await fetch(`${stack.boundary.resourceMetadataUrl}/`, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
  });
});

describe('the boundary refuses tokens whose claims could never form an envelope', () => {
  let stack: Stack;
  let claims: RefusalProbe['claims'];
  let forge: RefusalProbe['forge'];
  let call: RefusalProbe['call'];

  before(async () => {
    stack = await startStack();
    ({ claims, forge, call } = await refusalProbe(stack));
  });
  after(() => stack.close());

  async function assertRefusedAsClaimsInvalid(payload: Record<string, unknown>): Promise<void> {
    const auditBefore = stack.audit.events.length;
    const mintedBefore = stack.envelopes.minted.length;
    const token = await forge(payload);
    const answer = await call(`Bearer ${token}`);
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'claims_invalid');
    assert.equal(answer.body.error, 'invalid_token');
    assert.match(answer.challenge, /^Bearer /);
    assert.match(answer.challenge, /error="invalid_token"/);
    assert.equal(stack.envelopes.minted.length, mintedBefore, 'no envelope was minted');
    assert.equal(stack.audit.events.length, auditBefore, 'the tool never ran');
    assert.equal(stack.logLines.join('').includes(token), false, 'the token is never logged');
  }

  it('sanity: the same token without the defect is accepted', async () => {
    const answer = await call(`Bearer ${await forge(claims())}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.reason, undefined);
  });

  it('refuses a 40-deep act chain (the envelope chain holds at most 32 services)', async () => {
    await assertRefusedAsClaimsInvalid(claims({ act: actChain(40) }));
  });

  it('refuses a chain one service past the envelope limit (34 actors: 33 services and the agent)', async () => {
    await assertRefusedAsClaimsInvalid(claims({ act: actChain(34) }));
  });

  it('accepts a chain exactly at the envelope limit (32 services and the agent) and mints its envelope', async () => {
    const observed: Observation[] = stack.observed;
    observed.length = 0;
    const answer = await call(`Bearer ${await forge(claims({ act: actChain(33) }))}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.reason, undefined);
    const identity = observed.at(-1)!.identity;
    assert.equal(identity.delegation.chain.length, 32);
    assert.equal(identity.agent.id, 'agent-innermost');
  });

  it('refuses a scope that is not an RFC 6749 scope-token (a"b)', async () => {
    await assertRefusedAsClaimsInvalid(claims({ scope: 'orders:read a"b' }));
  });

  it('refuses a scope with a backslash', async () => {
    await assertRefusedAsClaimsInvalid(claims({ scope: 'orders:read a\\b' }));
  });

  it('refuses more than 256 scopes', async () => {
    const scope = ['orders:read', ...Array.from({ length: 256 }, (_, index) => `extra:${index}`)].join(' ');
    await assertRefusedAsClaimsInvalid(claims({ scope }));
  });

  it('refuses a subject longer than 1024 characters', async () => {
    await assertRefusedAsClaimsInvalid(claims({ sub: 'u'.repeat(1025) }));
  });

  it('refuses an empty tenant (an envelope tenant is a non-empty identifier or null)', async () => {
    await assertRefusedAsClaimsInvalid(claims({ tenant: '' }));
  });
});

describe('a mint that fails inside a tool call is still audited and its span ended', () => {
  const exporter = new InMemorySpanExporter();
  before(() => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
  });
  after(() => trace.disable());

  /** A real issuer whose input is corrupted on the way in, as if the boundary had let it through. */
  class CorruptingEnvelopeIssuer extends EnvelopeIssuer {
    override mint(body: EnvelopeBody): MintedEnvelope {
      return super.mint({ ...body, authorization: { ...body.authorization, scopes: ['a"b'] } });
    }
  }

  it('records an error event with reason claims_invalid and ends the hop span', async () => {
    const resource = 'http://127.0.0.1:9/mcp';
    const now = Math.floor(Date.now() / 1000);
    const verifier: AccessTokenVerifier = {
      async verify() {
        return {
          issuer: 'http://127.0.0.1:9',
          subject: 'user-alice',
          clientId: 'agent-under-test',
          scopes: ['orders:read'],
          audience: [resource],
          expiresAt: now + 300,
          claims: { sub: 'user-alice', client_id: 'agent-under-test', tenant: 'acme' },
        };
      },
    };
    const audit = new MemoryAuditSink();
    const boundary = new IdentityBoundary({
      resource,
      authorizationServers: ['http://127.0.0.1:9'],
      tokenVerifier: verifier,
      envelopes: new CorruptingEnvelopeIssuer({
        issuer: resource,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit,
      logger: createLogger({ name: 'mint-backstop', level: 'silent' }),
    });
    // The unmodified issuer would have minted: the failure is the corruption, not the claims.
    assert.throws(
      () =>
        new CorruptingEnvelopeIssuer({
          issuer: resource,
          trustDomain: 'baton.test',
          keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
        }).mint({
          actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
          agent: { type: 'ai_agent', id: 'a', client_id: 'a' },
          session: { id: 's', trace_id: 'a'.repeat(32) },
          authorization: { scopes: ['orders:read'], confidence: 'medium' },
          delegation: { mode: 'service_identity', allowed: [], chain: [] },
        }),
      (error: EnvelopeError) =>
        error instanceof EnvelopeError && error.code === 'ERR_ENVELOPE_CLAIMS_INVALID',
    );
    const handler = boundary.protect(createMcpHandler(() => buildOrdersServer(boundary, [])));
    const response = await handler.fetch(
      new Request(resource, {
        method: 'POST',
        headers: {
          authorization: 'Bearer opaque-test-token',
          traceparent: `00-${'e'.repeat(32)}-${'f'.repeat(16)}-01`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: TOOL_CALL,
      }),
    );
    await response.text();
    assert.equal(audit.events.length, 1, 'the failed call is audited');
    const event = audit.events[0]!;
    assert.equal(event.outcome, 'error');
    assert.equal(event.reason, 'claims_invalid');
    assert.equal(event.target.name, 'list_orders');
    assert.equal(event.initiator.sub, 'user-alice');
    assert.equal(event.envelope_id, undefined);
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'tools/call list_orders');
    assert.ok(span, 'the hop span was ended');
    assert.equal(span.attributes['baton.outcome'], 'error');
    assert.equal(span.attributes['baton.reason'], 'claims_invalid');
    // The caller is an agent, not an upstream Baton hop: its trace context is a link, not the parent.
    assert.deepEqual(event.linked_trace, { trace_id: 'e'.repeat(32), span_id: 'f'.repeat(16) });
    assert.equal(event.span_id, span.spanContext().spanId, 'the audit event names the ended span');
  });
});

describe('a delegation policy that could never form an envelope is refused at construction', () => {
  it('throws TypeError for duplicate allowed audiences or an unknown mode, instead of refusing every token', () => {
    const resource = 'http://127.0.0.1:9/mcp';
    const base = {
      resource,
      authorizationServers: ['http://127.0.0.1:9'],
      tokenVerifier: { verify: async () => assert.fail('not called') } as AccessTokenVerifier,
      envelopes: new EnvelopeIssuer({
        issuer: resource,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
      }),
      audit: new MemoryAuditSink(),
      logger: createLogger({ name: 'policy', level: 'silent' }),
    };
    assert.doesNotThrow(
      () => new IdentityBoundary({ ...base, delegation: { allowed: ['https://api.example'] } }),
    );
    assert.throws(
      () =>
        new IdentityBoundary({
          ...base,
          delegation: { allowed: ['https://api.example', 'https://api.example'] },
        }),
      TypeError,
    );
    assert.throws(
      () => new IdentityBoundary({ ...base, delegation: { mode: 'impersonation' as never, allowed: [] } }),
      TypeError,
    );
  });
});
