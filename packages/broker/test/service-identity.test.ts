import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { exchange, introspect, revoke, serviceClient, tokenRequest } from './fixtures/service-client.ts';
import {
  BILLING_API,
  BILLING_MCP,
  type BrokerStack,
  LEGACY_API,
  ORDERS_MCP,
  POLICY,
  startBrokerStack,
} from './fixtures/stack.ts';

/**
 * Service identity (`client_credentials`) at the broker: decided by the declared policy like an
 * exchange, audited, and recorded in the registry. The fixture's reporting service is approved for
 * `client_credentials` with scope `billing:read`, and one rule lets it read the billing API as itself.
 */
describe('service identity (client_credentials) is decided, audited and recorded like an exchange', () => {
  let stack: BrokerStack;

  before(async () => {
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: `${POLICY}
          // The reporting service may also reach the billing MCP server as itself, which may then act
          // for it towards the billing API: a person-less subject, allowed explicitly.
          @id("reporting-service-identity-at-billing-mcp")
          permit (principal == Baton::Client::"reporting-service", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
          when { context.mode == "service_identity" && context.scope == "billing:read" };

          @id("billing-acts-for-reporting")
          permit (principal == Baton::Client::"billing-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_API}")
          when { context.mode == "on_behalf_of" && context.subject_type == "service" && context.agent == "reporting-service" };
        `,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
    });
  });
  after(() => stack.close());

  const serviceToken = (client: BrokerStack['reporting'], parameters: Record<string, string>) =>
    tokenRequest(stack.broker.issuer, client, { grant_type: 'client_credentials', ...parameters });

  /** Asserts the RFC error, the audited reason (mode service_identity) and a public description. */
  async function refused(
    client: BrokerStack['reporting'],
    parameters: Record<string, string>,
    expected: { status?: number; error: string; reason: string },
  ) {
    const before = stack.audit.events.length;
    const answer = await serviceToken(client, parameters);
    assert.equal(answer.status, expected.status ?? 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, expected.error);
    assert.equal(typeof answer.body.error_description, 'string');
    assert.equal('access_token' in answer.body, false);
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(denial?.reason, expected.reason);
    assert.equal(denial?.delegation_mode, 'service_identity');
    assert.equal(denial?.agent.client_id, client.clientId);
    return answer.body;
  }

  it('issues a token for the client itself where a service_identity rule permits it, audited', async () => {
    const before = stack.audit.events.length;
    const { status, body } = await serviceToken(stack.reporting, { resource: BILLING_API });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'billing:read', 'the approved scope, when none is asked for');
    assert.ok((body.expires_in as number) <= 120, "the rule's @lifetime");
    const { payload } = await jwtVerify(
      body.access_token as string,
      createRemoteJWKSet(new URL(`${stack.broker.issuer}/jwks`)),
      { issuer: stack.broker.issuer, audience: BILLING_API, typ: 'at+jwt' },
    );
    assert.equal(payload.sub, 'reporting-service', 'RFC 9068 §2.2: sub is the client');
    assert.equal(payload.client_id, 'reporting-service');
    assert.equal(payload.act, undefined);
    const [event] = stack.audit.events.slice(before);
    assert.equal(event?.action, 'token.exchange');
    assert.equal(event?.outcome, 'ok');
    assert.equal(event?.delegation_mode, 'service_identity');
    assert.deepEqual(event?.initiator, { sub: 'reporting-service', tenant: null });
    assert.equal(event?.target.name, BILLING_API);
    assert.deepEqual(event?.chain, ['reporting-service']);
    assert.deepEqual(event?.scopes, ['billing:read']);
  });

  it('is introspectable by its client, and by nobody else', async () => {
    const { body } = await serviceToken(stack.reporting, { resource: BILLING_API });
    const own = await introspect(stack.broker.issuer, stack.reporting, body.access_token as string);
    assert.equal(own.body.active, true, JSON.stringify(own.body));
    assert.equal(own.body.client_id, 'reporting-service');
    assert.equal(own.body.scope, 'billing:read');
    const other = await introspect(stack.broker.issuer, stack.stranger, body.access_token as string);
    assert.deepEqual(other.body, { active: false });
  });

  it('refuses an audience no service_identity rule permits, without naming rule or audience', async () => {
    const body = await refused(
      stack.reporting,
      { resource: LEGACY_API },
      { error: 'invalid_target', reason: 'policy_denied' },
    );
    assert.equal(body.error_description, 'the declared policy does not allow this token');
    assert.ok(!JSON.stringify(body).includes(LEGACY_API), 'no audience in the response');
    assert.ok(!JSON.stringify(body).includes('reporting'), 'no client or rule id in the response');
    assert.match(String(stack.logs.at(-1)?.detail), /no rule permits client "reporting-service"/);
  });

  it('a rule written for exchanges grants no service identity, even to a client approved for it', async () => {
    // orders-mcp may exchange users' tokens towards the billing MCP server ("orders-to-billing"), and
    // here it is also approved for client_credentials: still no rule gives it a token as itself.
    const orders = await serviceClient('orders-mcp', [ORDERS_MCP], {
      grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
      scopes: ['billing:read'],
    });
    const other = await startBrokerStack({ clients: [orders.metadata] });
    try {
      const answer = await tokenRequest(other.broker.issuer, orders, {
        grant_type: 'client_credentials',
        resource: BILLING_MCP,
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error, 'invalid_target');
      assert.equal(other.audit.events.at(-1)?.reason, 'policy_denied');
      assert.equal(other.audit.events.at(-1)?.delegation_mode, 'service_identity');
    } finally {
      await other.close();
    }
  });

  it('refuses a scope the client is not approved for (invalid_scope), even one the policy would allow', async () => {
    await refused(
      stack.reporting,
      { resource: BILLING_API, scope: 'billing:read orders:read' },
      { error: 'invalid_scope', reason: 'scope_not_approved' },
    );
  });

  it('refuses more than one audience, and an unknown one (invalid_target, RFC 8707)', async () => {
    await refused(
      stack.reporting,
      { resource: 'http://127.0.0.1:9/unknown' },
      { error: 'invalid_target', reason: 'audience_unknown' },
    );
    await refused(stack.reporting, {}, { error: 'invalid_target', reason: 'audience_count' });
  });

  it('refuses client_credentials to a client the operator did not approve for it (unauthorized_client), audited', async () => {
    await refused(
      stack.stranger,
      { resource: BILLING_API },
      { error: 'unauthorized_client', reason: 'client_credentials_not_approved' },
    );
  });

  it('RFC 7009 revocation by its client stops it and every token exchanged from it', async () => {
    const { body } = await serviceToken(stack.reporting, { resource: BILLING_MCP });
    const serviceTokenValue = body.access_token as string;
    const derived = await exchange(stack.broker.issuer, stack.billing, {
      subject_token: serviceTokenValue,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(derived.status, 200, JSON.stringify(derived.body));
    const derivedToken = derived.body.access_token as string;
    assert.equal(decodeJwt(derivedToken).sub, 'reporting-service');
    assert.equal((await introspect(stack.broker.issuer, stack.billing, derivedToken)).body.active, true);

    assert.equal((await revoke(stack.broker.issuer, stack.reporting, serviceTokenValue)).status, 200);
    assert.deepEqual((await introspect(stack.broker.issuer, stack.reporting, serviceTokenValue)).body, {
      active: false,
    });
    assert.deepEqual((await introspect(stack.broker.issuer, stack.billing, derivedToken)).body, {
      active: false,
    });
    const onward = await exchange(stack.broker.issuer, stack.billing, {
      subject_token: serviceTokenValue,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(onward.body.error, 'invalid_grant');
    assert.equal(stack.audit.events.at(-1)?.reason, 'token_revoked');
  });

  it('operator revocation of everything of the client (subject) stops its service tokens', async () => {
    const { body } = await serviceToken(stack.reporting, { resource: BILLING_API });
    await stack.broker.revoke({ subject: 'reporting-service' }, { actor: 'operator' });
    assert.deepEqual(
      (await introspect(stack.broker.issuer, stack.reporting, body.access_token as string)).body,
      { active: false },
    );
  });
});

describe('service identity under a custom policy engine', () => {
  let stack: BrokerStack;
  before(async () => {
    // An engine that allows but grants none of what was asked: a token must not come out scopeless.
    stack = await startBrokerStack({
      policy: {
        decide: () => ({ allowed: true, grantedScopes: [], lifetimeSeconds: 60, maxDepth: 2, reasons: [] }),
      },
    });
  });
  after(() => stack.close());

  it('refuses with invalid_scope (audited scope_not_permitted) when the policy grants none of the requested scopes', async () => {
    const before = stack.audit.events.length;
    const answer = await tokenRequest(stack.broker.issuer, stack.reporting, {
      grant_type: 'client_credentials',
      resource: BILLING_API,
      scope: 'billing:read',
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_scope');
    assert.equal('access_token' in answer.body, false);
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(denial?.reason, 'scope_not_permitted');
    assert.equal(denial?.delegation_mode, 'service_identity');
  });
});
