import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { remoteJwksResolver, verifyEnvelope } from '@baton/envelope';
import { decodeJwt } from 'jose';
import { ACCESS_TOKEN_TYPE, TXN_TOKEN_TYPE } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { exchange, type ServiceClient, serviceClient } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, POLICY, startBrokerStack } from './fixtures/stack.ts';

// draft-ietf-oauth-transaction-tokens-10 at the broker's token endpoint (its Transaction Token Service):
// the Txn-Token request (§9.1), its processing (§9.3), the response (§9.4) and replacement (§12).

const TRUST_DOMAIN = 'baton.test';
const REQUEST_CONTEXT = JSON.stringify({ req_ip: '69.151.72.123', authn: 'pwd', transport: 'https' });
const REQUEST_DETAILS = JSON.stringify({ action: 'refund', invoice: 'inv-42', amount: 100 });

// The fixture policy, plus: billing-mcp may replace a Txn-Token for billing (a downstream service
// narrowing the token it was handed); ledger-mcp, a second workload serving billing, only for reading.
const REPLACING_POLICY = `${POLICY}
@id("billing-replaces-txn-tokens")
permit (principal == Baton::Client::"billing-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "txn_token" && ["billing:read", "orders:read"].contains(context.scope) };

@id("ledger-replaces-for-billing-read-only")
permit (principal == Baton::Client::"ledger-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "txn_token" && context.scope == "billing:read" };
`;

describe('Transaction Tokens at the broker (draft-ietf-oauth-transaction-tokens-10)', () => {
  let stack: BrokerStack;
  let userToken: string;
  let ledger: ServiceClient;
  let mirror: ServiceClient;

  before(async () => {
    // Both serve billing, so a Txn-Token for billing is one they may hold (and replace).
    ledger = await serviceClient('ledger-mcp', ['http://127.0.0.1:4105/ledger', BILLING_MCP]);
    // No rule names it: the policy refuses it anything.
    mirror = await serviceClient('billing-mirror', [BILLING_MCP]);
    stack = await startBrokerStack(
      {
        policy: createCedarPolicyEngine({
          policies: REPLACING_POLICY,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
      },
      [ledger.metadata, mirror.metadata],
    );
    userToken = await stack.userToken();
  });
  after(() => stack.close());

  const request = (params: Record<string, string>, client = stack.orders) =>
    exchange(stack.broker.issuer, client, {
      subject_token: userToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      resource: BILLING_MCP,
      scope: 'billing:read orders:read',
      ...params,
    });

  const replace = (txnToken: string, params: Record<string, string> = {}, client = stack.billing) =>
    exchange(stack.broker.issuer, client, {
      subject_token: txnToken,
      subject_token_type: TXN_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      scope: 'billing:read orders:read',
      ...params,
    });

  // What a downstream workload does with the token (draft-10 §10.2): signature, aud, expiry.
  const verified = (token: string) =>
    verifyEnvelope(token, {
      issuer: stack.broker.issuer,
      trustDomain: TRUST_DOMAIN,
      keys: remoteJwksResolver(new URL(`${stack.broker.issuer}/jwks`)),
    });

  async function issued(params: Record<string, string> = {}) {
    const { status, body } = await request(params);
    assert.equal(status, 200, JSON.stringify(body));
    return body.access_token as string;
  }

  it('answers a Txn-Token request with N_A, the Txn-Token type and no refresh token (§9.4)', async () => {
    const { status, body } = await request({});
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'N_A');
    assert.equal(body.issued_token_type, TXN_TOKEN_TYPE);
    assert.equal(body.refresh_token, undefined);
    const claims = decodeJwt(body.access_token as string);
    assert.equal(claims.aud, TRUST_DOMAIN, 'aud is the Trust Domain');
    assert.equal(claims.sub, 'user-alice');
    assert.equal(claims.scope, 'billing:read orders:read');
    assert.equal(claims.req_wl, 'orders-mcp', 'req_wl is the workload that asked');
    assert.match(claims.txn as string, /^[0-9a-f]{32}$/);
    assert.deepEqual(claims.tctx, { mode: 'service_identity', allowed: [BILLING_MCP], chain: [] });
  });

  it('asserts request_context in rctx and request_details in tctx.details', async () => {
    const token = await issued({ request_context: REQUEST_CONTEXT, request_details: REQUEST_DETAILS });
    const claims = decodeJwt(token);
    assert.deepEqual(claims.rctx, JSON.parse(REQUEST_CONTEXT));
    assert.deepEqual((claims.tctx as { details: unknown }).details, JSON.parse(REQUEST_DETAILS));
    const envelope = await verified(token);
    assert.equal(envelope.request_context?.req_ip, '69.151.72.123');
    assert.equal(envelope.details?.invoice, 'inv-42');
  });

  for (const [name, params, reason] of [
    ['request_context that is not JSON', { request_context: '{req_ip:' }, 'request_context_invalid'],
    ['request_context that is an array', { request_context: '["69.151.72.123"]' }, 'request_context_invalid'],
    [
      'request_context with a member the broker does not assert',
      { request_context: JSON.stringify({ req_ip: '10.0.0.1', role: 'admin' }) },
      'request_context_invalid',
    ],
    [
      'request_context with a malformed IP',
      { request_context: '{"req_ip":"1.2.3"}' },
      'request_context_invalid',
    ],
    ['request_details that is not JSON', { request_details: 'action=BUY' }, 'request_details_invalid'],
    ['request_details that is a string', { request_details: '"BUY"' }, 'request_details_invalid'],
    [
      'oversized request_details',
      { request_details: JSON.stringify({ blob: 'x'.repeat(4096) }) },
      'request_details_invalid',
    ],
  ] as const) {
    it(`refuses ${name} (invalid_request)`, async () => {
      const before = stack.audit.events.length;
      const { status, body } = await request(params);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_request');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, reason);
    });
  }

  it('refuses a Txn-Token request for another trust domain, or naming none (invalid_target)', async () => {
    for (const audience of ['other.example', '']) {
      const before = stack.audit.events.length;
      const { status, body } = await request({ audience });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_target');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'txn_audience_not_trust_domain');
    }
  });

  it('refuses a Txn-Token request that names no purpose (scope is required, §9.1)', async () => {
    const before = stack.audit.events.length;
    const { status, body } = await request({ scope: '' });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_request');
    const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
    assert.equal(event?.reason, 'parameters_missing');
  });

  it('refuses a Txn-Token scope wider than the subject token (scope processing, §12)', async () => {
    const { status, body } = await request({ scope: 'billing:read orders:write' });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_scope');
  });

  describe('replacement Txn-Tokens (§12)', () => {
    it('narrows scope and adds request details, keeping txn, sub, aud, agent, session and rctx', async () => {
      const original = await issued({ request_context: REQUEST_CONTEXT, request_details: REQUEST_DETAILS });
      const { status, body } = await replace(original, {
        scope: 'billing:read',
        request_details: JSON.stringify({ step: 'refund-approved' }),
      });
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.issued_token_type, TXN_TOKEN_TYPE);
      assert.equal(body.token_type, 'N_A');
      const [before, after] = [await verified(original), await verified(body.access_token as string)];
      const [rawBefore, rawAfter] = [decodeJwt(original), decodeJwt(body.access_token as string)];
      assert.equal(rawAfter.txn, rawBefore.txn, 'txn unchanged');
      assert.equal(rawAfter.sub, rawBefore.sub, 'sub unchanged');
      assert.equal(rawAfter.aud, rawBefore.aud, 'aud unchanged');
      assert.notEqual(rawAfter.jti, rawBefore.jti);
      assert.deepEqual(after.agent, before.agent);
      assert.deepEqual(after.session, before.session);
      assert.deepEqual(after.authorization.scopes, ['billing:read']);
      assert.deepEqual(after.details, { ...JSON.parse(REQUEST_DETAILS), step: 'refund-approved' });
      assert.deepEqual(after.request_context, JSON.parse(REQUEST_CONTEXT), 'rctx is kept as asserted');
      assert.equal(after.requesting_workload, 'billing-mcp');
      assert.deepEqual(after.delegation.chain, ['orders-mcp'], 'the replaced token’s requester is kept');
      assert.ok(after.expires_at <= before.expires_at, 'never outlives the token it replaces');
    });

    it('keeps everything when the same purpose is asked', async () => {
      const original = await issued();
      const { status, body } = await replace(original);
      assert.equal(status, 200, JSON.stringify(body));
      const after = await verified(body.access_token as string);
      assert.deepEqual(after.authorization.scopes, ['billing:read', 'orders:read']);
      assert.deepEqual(after.delegation.allowed, [BILLING_MCP]);
    });

    it('refuses a replacement that names no purpose (scope is required, never defaulted)', async () => {
      const original = await issued();
      const before = stack.audit.events.length;
      const { status, body } = await replace(original, { scope: '' });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_request');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'parameters_missing');
    });

    it('refuses a replacement with a wider scope (invalid_scope)', async () => {
      const original = await issued({ scope: 'billing:read' });
      const { status, body } = await replace(original, { scope: 'billing:read orders:read' });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_scope');
    });

    it('refuses a replacement naming a service the replaced token does not allow', async () => {
      const original = await issued();
      const before = stack.audit.events.length;
      const { status, body } = await replace(original, { resource: BILLING_API });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_target');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'txn_replacement_wider');
    });

    it('refuses a replacement that changes an asserted value (request_details, request_context)', async () => {
      const original = await issued({ request_context: REQUEST_CONTEXT, request_details: REQUEST_DETAILS });
      for (const params of [
        { request_details: JSON.stringify({ amount: 1_000_000 }) } as Record<string, string>,
        { request_context: JSON.stringify({ req_ip: '10.9.9.9' }) },
      ]) {
        const before = stack.audit.events.length;
        const { status, body } = await replace(original, params);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.error, 'invalid_request');
        const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
        assert.equal(event?.reason, 'txn_replacement_wider');
      }
    });

    it('refuses a replacement that adds request_context members', async () => {
      // rctx describes the request that started the transaction: only its first requester saw it.
      const withContext = await issued({ request_context: JSON.stringify({ req_ip: '69.151.72.123' }) });
      const without = await issued();
      for (const [token, context] of [
        [withContext, { req_ip: '69.151.72.123', authn: 'hwk', transport: 'mtls' }],
        [without, { transport: 'mtls' }],
      ] as const) {
        const before = stack.audit.events.length;
        const { status, body } = await replace(token, { request_context: JSON.stringify(context) });
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.error, 'invalid_request');
        const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
        assert.equal(event?.reason, 'txn_replacement_wider');
      }
      // Repeating what the token asserts adds nothing, and is accepted.
      const same = await replace(withContext, {
        request_context: JSON.stringify({ req_ip: '69.151.72.123' }),
      });
      assert.equal(same.status, 200, JSON.stringify(same.body));
    });

    it('refuses a replacement whose merged request_details exceed the limit with invalid_request', async () => {
      // Each part is within the envelope's limit (2048 characters of JSON), their union is not.
      const original = await issued({ request_details: JSON.stringify({ a: 'x'.repeat(1500) }) });
      const before = stack.audit.events.length;
      const { status, body } = await replace(original, {
        request_details: JSON.stringify({ b: 'x'.repeat(1500) }),
      });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_request');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'request_details_invalid');
    });

    it('refuses to exchange a Txn-Token for an access token (a Txn-Token is not a credential)', async () => {
      const original = await issued();
      const { status, body } = await replace(original, { requested_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_request');
    });

    it('refuses a replacement for another trust domain', async () => {
      const original = await issued();
      const { status, body } = await replace(original, { audience: 'other.example' });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_target');
    });

    it('refuses a forged or tampered Txn-Token as the subject', async () => {
      const original = await issued();
      const [header, payload, signature] = original.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const widened = Buffer.from(
        JSON.stringify({ ...claims, scope: 'billing:read orders:read orders:write' }),
      ).toString('base64url');
      for (const token of [`${header}.${widened}.${signature}`, userToken]) {
        const before = stack.audit.events.length;
        const { status, body } = await replace(token);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.error, 'invalid_request');
        const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
        assert.equal(event?.reason, 'txn_token_invalid');
      }
    });

    it('grants a replacement only the scopes the policy permits the replacing client', async () => {
      const original = await issued();
      const { status, body } = await replace(original, {}, ledger);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.scope, 'billing:read');
      assert.deepEqual((await verified(body.access_token as string)).authorization.scopes, ['billing:read']);
      const refused = await replace(original, { scope: 'orders:read' }, ledger);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'invalid_scope');
    });

    it('refuses a replacement by a client the Txn-Token was neither issued to nor allowed for', async () => {
      // The stranger serves nothing the token allows and did not ask for it: it merely saw it.
      const original = await issued({ request_details: REQUEST_DETAILS });
      const before = stack.audit.events.length;
      const { status, body } = await replace(
        original,
        { request_details: JSON.stringify({ approved_by: 'cfo' }) },
        stack.stranger,
      );
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_grant');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'txn_replacement_not_holder');
      // The workload it was issued to (req_wl) may replace it, as may the service it is for (above).
      const own = await replace(original, { scope: 'billing:read' }, stack.orders);
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    it('refuses a replacement the policy does not permit for the replacing client', async () => {
      const original = await issued();
      const before = stack.audit.events.length;
      const { status, body } = await replace(original, {}, mirror);
      assert.equal(status, 400, JSON.stringify(body));
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'policy_denied');
      assert.deepEqual(event?.chain, ['billing-mirror', 'orders-mcp']);
    });

    it('is recorded under the replaced token: revoking the replaced token or its root covers it', async () => {
      const original = await issued();
      const { body } = await replace(original);
      const replacement = body.access_token as string;
      const { jti } = decodeJwt(replacement);
      const record = await stack.broker.registry.find(jti as string);
      assert.equal(record?.parent, decodeJwt(original).jti);
      assert.equal(record?.clientId, 'billing-mcp');
      const now = Math.floor(Date.now() / 1000);
      assert.equal(await stack.broker.registry.isActive(jti as string, now), true);
      await stack.broker.registry.revoke({ jti: decodeJwt(original).jti as string });
      assert.equal(await stack.broker.registry.isActive(jti as string, now), false);
      // And a revoked Txn-Token cannot be replaced any more.
      const again = await replace(original);
      assert.equal(again.status, 400, JSON.stringify(again.body));
      assert.equal(again.body.error, 'invalid_grant');

      const other = await issued();
      const second = await replace(other);
      const secondJti = decodeJwt(second.body.access_token as string).jti as string;
      const root = (await stack.broker.registry.find(secondJti))!.root;
      await stack.broker.registry.revoke({ root });
      assert.equal(await stack.broker.registry.isActive(secondJti, now), false);
    });

    it('is revoked with its subject (the person)', async () => {
      userToken = await stack.userToken(); // the one before had its root grant revoked above
      const original = await issued();
      const { body } = await replace(original);
      const jti = decodeJwt(body.access_token as string).jti as string;
      const now = Math.floor(Date.now() / 1000);
      await stack.broker.registry.revoke({ subject: 'user-alice' });
      assert.equal(await stack.broker.registry.isActive(jti, now), false);
    });
  });
});

describe('replacing a Txn-Token after a revocation of its person (draft-10 §12)', () => {
  let stack: BrokerStack;

  before(async () => {
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: REPLACING_POLICY,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
    });
  });
  after(() => stack.close());

  const issue = async (userToken: string) => {
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: userToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(status, 200, JSON.stringify(body));
    return body.access_token as string;
  };
  const replace = (txnToken: string) =>
    exchange(stack.broker.issuer, stack.billing, {
      subject_token: txnToken,
      subject_token_type: TXN_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      scope: 'billing:read',
    });

  it("refuses to replace a Txn-Token after its person's identity-provider session was revoked", async () => {
    const userToken = await stack.userToken();
    const sid = decodeJwt(userToken).sid;
    assert.equal(typeof sid, 'string', 'the demo IdP names its session in sid');
    const original = await issue(userToken);
    const replacement = (await replace(original)).body.access_token as string;
    await stack.broker.registry.revoke({ session: sid as string });
    for (const token of [original, replacement]) {
      const before = stack.audit.events.length;
      const { status, body } = await replace(token);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_grant');
      const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
      assert.equal(event?.reason, 'session_revoked');
    }
  });

  it("replaces a Txn-Token issued after its person's cut-off (before), and refuses one issued before it", async () => {
    const earlier = await issue(await stack.userToken());
    const cutOff = (decodeJwt(earlier).iat as number) + 1;
    await stack.broker.registry.revoke({ subject: 'user-alice', before: cutOff });
    await new Promise((resolve) => setTimeout(resolve, cutOff * 1000 - Date.now() + 20));
    const later = await issue(await stack.userToken());
    assert.equal((await replace(later)).status, 200, 'issued at or after the cut-off: not covered');
    const { status, body } = await replace(earlier);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_grant');
  });
});

describe('replacing an expired Txn-Token (draft-10 §12)', () => {
  let stack: BrokerStack;

  before(async () => {
    const policies = POLICY.replace(
      '@id("orders-to-billing")\n@lifetime("300")',
      '@id("orders-to-billing")\n@lifetime("1")',
    );
    assert.notEqual(policies, POLICY, 'the fixture policy carries @lifetime("300") for orders-to-billing');
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({ policies, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
    });
  });
  after(() => stack.close());

  it('refuses to replace a Txn-Token that has expired, with no clock tolerance', async () => {
    const issued = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body.expires_in, 1);
    const { exp } = decodeJwt(issued.body.access_token as string);
    // Past `exp` by a whole second: a verifier's usual skew would still accept it.
    await new Promise((resolve) => setTimeout(resolve, ((exp as number) + 1) * 1000 - Date.now() + 50));
    const before = stack.audit.events.length;
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: issued.body.access_token as string,
      subject_token_type: TXN_TOKEN_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      audience: TRUST_DOMAIN,
      scope: 'billing:read',
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_request');
    const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'denied');
    assert.equal(event?.reason, 'txn_token_invalid');
  });
});
