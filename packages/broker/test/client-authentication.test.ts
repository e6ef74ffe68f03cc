import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { post, tokenRequest } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

/** RFC 6749 §5.2: a request without (usable) client authentication is `invalid_client`, not `invalid_request`. */
describe('client authentication refusals at the token, introspection and revocation endpoints', () => {
  let stack: BrokerStack;
  let userToken: string;
  before(async () => {
    stack = await startBrokerStack();
    userToken = await stack.userToken();
  });
  after(() => stack.close());

  const exchangeWithout = (headers: Record<string, string> = {}, extra: Record<string, string> = {}) =>
    post(
      `${stack.broker.issuer}/token`,
      {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: userToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
        ...extra,
      },
      headers,
    );

  function assertInvalidClient(answer: Awaited<ReturnType<typeof post>>, reason?: string) {
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_client');
    assert.equal('access_token' in answer.body, false);
    assert.match(
      answer.headers.get('www-authenticate') ?? '',
      /^Basic realm="/,
      'RFC 9110: a 401 carries a challenge',
    );
    if (reason) {
      const line = stack.logs.findLast((entry) => entry.msg === 'client authentication refused');
      assert.equal(line?.reason, reason);
    }
  }

  it('answers a token request that carries no client authentication at all with 401 invalid_client', async () => {
    assertInvalidClient(await exchangeWithout(), 'client_authentication_missing');
    assert.equal(
      stack.audit.events.some((event) => event.outcome === 'ok'),
      false,
      'nothing was issued',
    );
  });

  it('answers an Authorization header in a scheme the client cannot authenticate with (Bearer) with 401 and a Basic challenge', async () => {
    assertInvalidClient(
      await exchangeWithout({ authorization: `Bearer ${userToken}` }),
      'client_authentication_scheme_unusable',
    );
  });

  it('answers a malformed Basic credential with 401 invalid_client', async () => {
    assertInvalidClient(
      await exchangeWithout({ authorization: 'Basic not-base64-at-all!' }),
      'client_authentication_scheme_unusable',
    );
    assertInvalidClient(
      await exchangeWithout({ authorization: `Basic ${Buffer.from('orders-mcp').toString('base64')}` }),
      'client_authentication_scheme_unusable',
    );
  });

  it('answers a client id without its assertion with 401 invalid_client and a challenge', async () => {
    assertInvalidClient(await exchangeWithout({}, { client_id: 'orders-mcp' }));
  });

  it('keeps invalid_request for two authentication mechanisms at once (RFC 6749 §5.2)', async () => {
    const answer = await exchangeWithout(
      { authorization: `Basic ${Buffer.from('orders-mcp:secret').toString('base64')}` },
      {
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await stack.orders.assertion(stack.broker.issuer),
      },
    );
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_request');
  });

  it('an attacker who names another client and sends attestation headers instead of credentials gets 401 invalid_client, no audit event in its name, no trace joined, and nothing about grant types', async () => {
    // billing-mcp exists and may exchange tokens but not use client_credentials; no-such-client does
    // not exist. oidc-provider looks the named client up before checking any credential.
    const victimTrace = 'a'.repeat(32);
    const before = stack.audit.events.length;
    const logsBefore = stack.logs.length;
    const answers = [];
    for (const [clientId, grantType] of [
      ['billing-mcp', 'client_credentials'],
      ['billing-mcp', TOKEN_EXCHANGE_GRANT],
      ['no-such-client', 'client_credentials'],
    ] as const) {
      const answer = await post(
        `${stack.broker.issuer}/token`,
        { grant_type: grantType, client_id: clientId, resource: BILLING_MCP, scope: 'billing:read' },
        { 'oauth-client-attestation-pop': 'x', traceparent: `00-${victimTrace}-bbbbbbbbbbbbbbbb-01` },
      );
      assertInvalidClient(answer, 'client_authentication_scheme_unsupported');
      answers.push(answer.body);
    }
    assert.deepEqual(
      answers[1],
      answers[0],
      'the answer says nothing about which grant types the client has',
    );
    assert.deepEqual(answers[2], answers[0], 'the answer says nothing about which clients exist');
    const events = stack.audit.events.slice(before);
    assert.deepEqual(events, [], 'nothing is audited in the name of a client that did not authenticate');
    assert.equal(
      stack.logs
        .slice(logsBefore)
        .some((line) => line.client_id === 'billing-mcp' || line.trace_id === victimTrace),
      false,
    );
  });

  it('answers introspection and revocation without client authentication with 401 invalid_client', async () => {
    assertInvalidClient(await post(`${stack.broker.issuer}/token/introspection`, { token: userToken }));
    assertInvalidClient(await post(`${stack.broker.issuer}/token/revocation`, { token: userToken }));
  });

  it('answers a grant type the authenticated client is not registered for with unauthorized_client, audited', async () => {
    // The reporting service is registered for client_credentials only.
    const before = stack.audit.events.length;
    const answer = await tokenRequest(stack.broker.issuer, stack.reporting, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: userToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'unauthorized_client');
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(denial?.reason, 'grant_type_not_allowed');
    assert.equal(denial?.agent.client_id, 'reporting-service');
  });
});
