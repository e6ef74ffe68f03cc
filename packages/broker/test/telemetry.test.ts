import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  assertNoSecretInSpans,
  assertSameHop,
  installTestTracing,
} from '../../audit/test/fixtures/tracing.ts';
import { ACCESS_TOKEN_TYPE } from '../src/index.ts';
import { exchange, introspect, revoke, type ServiceClient, tokenRequest } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

describe('broker spans: token endpoint, introspection and revocation, agreeing with the audit', () => {
  let tracing: ReturnType<typeof installTestTracing>;
  let stack: BrokerStack;
  /** Every token and client assertion the tests sent or received: none may reach a span. */
  const secrets: string[] = [];

  before(async () => {
    tracing = installTestTracing();
    stack = await startBrokerStack();
  });
  afterEach(() => assertNoSecretInSpans(tracing.exporter, secrets));
  after(async () => {
    await stack.close();
    tracing.uninstall();
  });

  const tokenSpans = () => tracing.exporter.getFinishedSpans().filter((span) => span.name === 'POST /token');
  const lastEvent = () => stack.audit.events.at(-1)!;

  async function exchangeAs(client: ServiceClient, subject: string, resource: string, headers = {}) {
    const assertion = await client.assertion(stack.broker.issuer);
    secrets.push(assertion, subject);
    const answer = await exchange(
      stack.broker.issuer,
      client,
      { subject_token: subject, subject_token_type: ACCESS_TOKEN_TYPE, resource },
      { assertion, headers },
    );
    if (typeof answer.body.access_token === 'string') secrets.push(answer.body.access_token);
    return answer;
  }

  it("an exchange by a trusted hop is a server span in the caller's trace, with the audit event's ids, mode and outcome", async () => {
    const answer = await exchangeAs(stack.orders, await stack.userToken(), BILLING_MCP, {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const [span] = tokenSpans();
    assert.ok(span, 'the exchange has a span');
    assert.equal(span.spanContext().traceId, CALLER_TRACE);
    assert.equal(span.parentSpanContext?.spanId, CALLER_SPAN);
    const event = lastEvent();
    assertSameHop(span, event);
    assert.equal(
      span.attributes['baton.oauth.grant_type'],
      'urn:ietf:params:oauth:grant-type:token-exchange',
    );
    assert.equal(span.attributes['baton.delegation.mode'], event.delegation_mode);
    assert.equal(span.attributes['enduser.id'], event.initiator.sub);
    assert.equal(span.attributes['baton.audience'], BILLING_MCP);
    assert.equal(span.attributes['baton.outcome'], 'ok');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  });

  it('an exchange without traceparent is a fresh trace whose id the audit shares', async () => {
    const answer = await exchangeAs(stack.orders, await stack.userToken(), BILLING_MCP);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const [span] = tokenSpans();
    assert.ok(span);
    assert.equal(span.parentSpanContext, undefined);
    assertSameHop(span, lastEvent());
  });

  it("a refused exchange is a span with status error and the audit's reason code", async () => {
    const answer = await exchangeAs(stack.stranger, await stack.userToken(), BILLING_API, {
      traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    });
    assert.notEqual(answer.status, 200);
    const [span] = tokenSpans();
    assert.ok(span, 'the refusal has a span');
    const event = lastEvent();
    assert.equal(event.outcome, 'denied');
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.attributes['baton.outcome'], 'denied');
    assert.equal(span.attributes['baton.reason'], event.reason);
    assert.equal(span.attributes['error.type'], event.reason);
    // An untrusted caller's trace context is a link, in the span as in the audit.
    assert.notEqual(span.spanContext().traceId, CALLER_TRACE);
    assert.deepEqual(event.linked_trace, { trace_id: CALLER_TRACE, span_id: CALLER_SPAN });
    assert.deepEqual(
      span.links.map((link) => link.context.spanId),
      [CALLER_SPAN],
    );
    assertSameHop(span, event);
  });

  it('client credentials (service identity) is a span that says service_identity, as the audit does', async () => {
    const assertion = await stack.reporting.assertion(stack.broker.issuer);
    secrets.push(assertion);
    const answer = await tokenRequest(
      stack.broker.issuer,
      stack.reporting,
      { grant_type: 'client_credentials', resource: BILLING_API, scope: 'billing:read' },
      { assertion },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    secrets.push(answer.body.access_token as string);
    const [span] = tokenSpans();
    assert.ok(span);
    assert.equal(span.attributes['baton.oauth.grant_type'], 'client_credentials');
    assert.equal(span.attributes['baton.delegation.mode'], 'service_identity');
    assert.equal(lastEvent().delegation_mode, 'service_identity');
    assertSameHop(span, lastEvent());
  });

  it("a client that sends an unbounded grant_type cannot write it into the span (the attribute is 'other')", async () => {
    const chosen = `urn:attacker:${'x'.repeat(4096)}`;
    const answer = await tokenRequest(stack.broker.issuer, stack.reporting, {
      grant_type: chosen,
      resource: BILLING_API,
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    const [span] = tokenSpans();
    assert.ok(span);
    assert.equal(span.attributes['baton.oauth.grant_type'], 'other');
    assert.equal(JSON.stringify(span.attributes).includes('urn:attacker'), false);
  });

  it('a client that fails to authenticate is a span with status error and the OAuth error, never its assertion', async () => {
    const forged = `${await stack.orders.assertion(stack.broker.issuer)}x`;
    secrets.push(forged);
    const answer = await exchange(
      stack.broker.issuer,
      stack.orders,
      { subject_token: 'not-a-token', subject_token_type: ACCESS_TOKEN_TYPE, resource: BILLING_MCP },
      { assertion: forged },
    );
    assert.equal(answer.status, 401);
    const [span] = tokenSpans();
    assert.ok(span);
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.attributes['baton.reason'], 'invalid_client');
  });

  it('introspection and revocation each get a span', async () => {
    const answer = await exchangeAs(stack.orders, await stack.userToken(), BILLING_MCP);
    const token = answer.body.access_token as string;
    tracing.exporter.reset();
    assert.equal((await introspect(stack.broker.issuer, stack.orders, token)).body.active, true);
    assert.equal((await revoke(stack.broker.issuer, stack.orders, token)).status, 200);
    const spans = tracing.exporter.getFinishedSpans();
    const introspection = spans.find((span) => span.name === 'POST /token/introspection');
    const revocation = spans.find((span) => span.name === 'POST /token/revocation');
    assert.ok(introspection, 'introspection has a span');
    assert.ok(revocation, 'revocation has a span');
    assert.equal(introspection.attributes['baton.oauth.endpoint'], 'introspection');
    assert.equal(introspection.attributes['baton.oauth.client_id'], 'orders-mcp');
    assert.equal(revocation.attributes['baton.outcome'], 'ok');
  });
});
