import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { remoteJwksResolver, verifyEnvelope } from '@baton/envelope';
import { ACCESS_TOKEN_TYPE, TXN_TOKEN_TYPE } from '../src/index.ts';
import { exchange, tokenRequest } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

/** Alice's trace, as a caller who saw its id would replay it. */
const ALICES_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const injected = { traceparent: `00-${ALICES_TRACE}-${SPAN}-01` };

/**
 * The broker joins an incoming `traceparent` only for a client the operator marked trusted
 * (`baton_trace_trusted`, static or approved): the fixture's orders MCP server. Anyone else gets a
 * fresh trace that records what it sent as `linked_trace`, so it cannot file its requests under
 * another person's trace.
 */
describe('trace injection at the broker', () => {
  let stack: BrokerStack;
  let hop1: string;

  before(async () => {
    stack = await startBrokerStack();
    const first = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    hop1 = first.body.access_token as string;
  });
  after(() => stack.close());

  const lastEvent = () => stack.audit.events.at(-1)!;

  it("an unmarked client that sends another person's trace id gets a fresh trace, linked to the one it sent", async () => {
    const answer = await exchange(
      stack.broker.issuer,
      stack.billing,
      { subject_token: hop1, subject_token_type: ACCESS_TOKEN_TYPE, resource: BILLING_API },
      { headers: injected },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const event = lastEvent();
    assert.notEqual(event.trace_id, ALICES_TRACE);
    assert.match(event.trace_id, /^[0-9a-f]{32}$/);
    assert.equal(event.parent_span_id, undefined);
    assert.deepEqual(event.linked_trace, { trace_id: ALICES_TRACE, span_id: SPAN });
  });

  it('the same holds for a refused request and for service identity', async () => {
    await exchange(
      stack.broker.issuer,
      stack.stranger,
      { subject_token: hop1, subject_token_type: ACCESS_TOKEN_TYPE, resource: BILLING_API },
      { headers: injected },
    );
    assert.equal(lastEvent().outcome, 'denied');
    assert.notEqual(lastEvent().trace_id, ALICES_TRACE);
    assert.equal(lastEvent().linked_trace?.trace_id, ALICES_TRACE);
    const service = await tokenRequest(
      stack.broker.issuer,
      stack.reporting,
      { grant_type: 'client_credentials', resource: BILLING_API },
      { headers: injected },
    );
    assert.equal(service.status, 200, JSON.stringify(service.body));
    assert.equal(lastEvent().delegation_mode, 'service_identity');
    assert.notEqual(lastEvent().trace_id, ALICES_TRACE);
    assert.equal(lastEvent().linked_trace?.trace_id, ALICES_TRACE);
  });

  it('a client the operator marked trusted continues the trace it sends, as its parent', async () => {
    const answer = await exchange(
      stack.broker.issuer,
      stack.orders,
      {
        subject_token: await stack.userToken(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
        audience: 'baton.test',
        requested_token_type: TXN_TOKEN_TYPE,
        scope: 'billing:read',
      },
      { headers: injected },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const event = lastEvent();
    assert.equal(event.trace_id, ALICES_TRACE);
    assert.equal(event.parent_span_id, SPAN);
    assert.equal(event.linked_trace, undefined);
    const envelope = await verifyEnvelope(answer.body.access_token as string, {
      issuer: stack.broker.issuer,
      trustDomain: 'baton.test',
      keys: remoteJwksResolver(new URL(`${stack.broker.issuer}/jwks`)),
    });
    assert.equal(
      envelope.session.trace_id,
      ALICES_TRACE,
      'the envelope carries the trace its audit event is in',
    );
  });
});
