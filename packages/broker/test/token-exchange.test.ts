import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { remoteJwksResolver, verifyEnvelope } from '@baton/envelope';
import { createRemoteJWKSet, decodeJwt, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { ACCESS_TOKEN_TYPE, TXN_TOKEN_TYPE } from '../src/index.ts';
import { createCedarPolicyEngine, type ExchangeFacts, type PolicyEngine } from '../src/policy/index.ts';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import type { IssuedToken } from '../src/registry/token-registry.ts';
import { exchange } from './fixtures/service-client.ts';
import {
  BILLING_API,
  BILLING_MCP,
  type BrokerStack,
  LEGACY_API,
  ORDERS_MCP,
  POLICY,
  startBrokerStack,
} from './fixtures/stack.ts';

const subjectOf = (token: string) => ({ subject_token: token, subject_token_type: ACCESS_TOKEN_TYPE });

/** What a refusal must never tell the client (RFC 6749 §5.2 descriptions are public): policy internals. */
const PRIVATE = [
  ...[...POLICY.matchAll(/@id\("([^"]+)"\)/g)].map((match) => match[1]!),
  'orders-mcp',
  'billing-mcp',
  'stranger-service',
  BILLING_MCP,
  BILLING_API,
  LEGACY_API,
  'no rule permits',
];

function assertNothingPrivate(body: Record<string, unknown>) {
  const text = JSON.stringify(body);
  for (const secret of PRIVATE) assert.ok(!text.includes(secret), `the response quotes ${secret}: ${text}`);
}

describe('RFC 8693 token exchange along agent → orders MCP → billing MCP → billing API', () => {
  let stack: BrokerStack;
  let userToken: string;
  let hop1: string;
  let hop2: string;

  before(async () => {
    stack = await startBrokerStack();
    userToken = await stack.userToken();
  });
  after(() => stack.close());

  it('hop 1: the orders MCP server exchanges the user token for the billing MCP server', async () => {
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(userToken),
      resource: BILLING_MCP,
      scope: 'billing:read orders:read',
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'billing:read orders:read');
    hop1 = body.access_token as string;
    const user = decodeJwt(userToken);
    const keys = createRemoteJWKSet(new URL(`${stack.broker.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(hop1, keys, {
      issuer: stack.broker.issuer,
      audience: BILLING_MCP,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.aud, BILLING_MCP, 'exactly one audience');
    assert.equal(payload.client_id, 'orders-mcp');
    assert.equal(typeof payload.jti, 'string');
    assert.deepEqual(payload.act, { sub: 'orders-mcp', act: { sub: user.client_id, iss: stack.idp.issuer } });
    assert.ok((payload.exp as number) <= (user.exp as number), 'never outlives the subject token');
    assert.equal(payload.tenant, 'acme');
  });

  it('hop 2: the billing MCP server exchanges that for the API, narrower and shorter, naming every actor', async () => {
    const { status, body } = await exchange(stack.broker.issuer, stack.billing, {
      ...subjectOf(hop1),
      resource: BILLING_API,
    });
    assert.equal(status, 200, JSON.stringify(body));
    hop2 = body.access_token as string;
    const payload = decodeJwt(hop2);
    const agent = decodeJwt(userToken).client_id;
    assert.equal(payload.aud, BILLING_API);
    assert.equal(payload.scope, 'billing:read', 'orders:read is not understood by the API and is dropped');
    assert.equal(payload.client_id, 'billing-mcp');
    assert.deepEqual(payload.act, {
      sub: 'billing-mcp',
      act: { sub: 'orders-mcp', act: { sub: agent, iss: stack.idp.issuer } },
    });
    assert.ok((body.expires_in as number) <= 120, 'the policy rule caps this hop at 120 s');
    assert.ok((payload.exp as number) <= (decodeJwt(hop1).exp as number));
  });

  it('audits each exchange with client, subject, chain, audience, scopes asked and granted', () => {
    const [first, second] = stack.audit.events.filter((event) => event.outcome === 'ok');
    assert.equal(first?.action, 'token.exchange');
    assert.equal(first?.initiator.sub, 'user-alice');
    assert.equal(first?.target.name, BILLING_MCP);
    assert.deepEqual(first?.chain, ['orders-mcp', decodeJwt(userToken).client_id]);
    assert.deepEqual(second?.chain, ['billing-mcp', 'orders-mcp', decodeJwt(userToken).client_id]);
    assert.deepEqual(second?.scopes_requested, ['billing:read', 'orders:read']);
    assert.deepEqual(second?.scopes, ['billing:read']);
    assert.equal(JSON.stringify(stack.audit.events).includes(userToken), false, 'no token in the audit');
  });

  it('issues a restricted user token (no act) only where policy allows impersonation', async () => {
    const allowed = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(userToken),
      resource: LEGACY_API,
      scope: 'orders:read',
      delegation_mode: 'restricted_user',
    });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    const payload = decodeJwt(allowed.body.access_token as string);
    assert.equal(payload.act, undefined);
    assert.equal(payload.aud, LEGACY_API);
    assert.equal(payload.sub, 'user-alice');
    assert.notEqual(allowed.body.access_token, userToken, 'never the original token');
  });

  it('issues the Execution Identity Envelope as a Transaction Token when asked', async () => {
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(userToken),
      resource: BILLING_MCP,
      audience: 'baton.test',
      requested_token_type: TXN_TOKEN_TYPE,
      scope: 'billing:read',
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.issued_token_type, TXN_TOKEN_TYPE);
    assert.equal(body.token_type, 'N_A');
    const envelope = await verifyEnvelope(body.access_token as string, {
      issuer: stack.broker.issuer,
      trustDomain: 'baton.test',
      keys: remoteJwksResolver(new URL(`${stack.broker.issuer}/jwks`)),
    });
    assert.equal(envelope.actor.sub, 'user-alice');
    assert.equal(envelope.agent.client_id, decodeJwt(userToken).client_id);
    assert.deepEqual(envelope.authorization.scopes, ['billing:read']);
  });
});

describe('token exchange refusals', () => {
  let stack: BrokerStack;
  let userToken: string;
  let idpKey: CryptoKey | Uint8Array;

  before(async () => {
    stack = await startBrokerStack();
    userToken = await stack.userToken();
    idpKey = await importJWK(stack.idpSigningJwk as JWK, 'ES256');
  });
  after(() => stack.close());

  async function forgeUserToken(
    overrides: Record<string, unknown> = {},
    header: Record<string, unknown> = {},
    key = idpKey,
  ) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: stack.idp.issuer,
      aud: ORDERS_MCP,
      sub: 'user-alice',
      client_id: 'agent-under-test',
      scope: 'orders:read billing:read',
      iat: now,
      exp: now + 300,
      jti: randomUUID(),
      ...overrides,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: stack.idpSigningJwk.kid as string, ...header })
      .sign(key);
  }

  async function refused(
    client: 'orders' | 'billing' | 'stranger',
    parameters: Record<string, string>,
    error: string,
    reason: string,
    status = 400,
  ) {
    const before = stack.audit.events.length;
    const logged = stack.logs.length;
    const answer = await exchange(stack.broker.issuer, stack[client], parameters);
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.body.error, error, JSON.stringify(answer.body));
    assert.equal(typeof answer.body.error_description, 'string');
    assertNothingPrivate(answer.body);
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(denial?.reason, reason, 'the denial is audited with its reason');
    const line = stack.logs.slice(logged).find((entry) => entry.msg === 'token request refused');
    assert.equal(line?.reason, reason, 'the refusal is logged with its reason');
    return { body: answer.body, detail: String(line?.detail ?? '') };
  }

  it('sanity: a forged-but-correct subject token is accepted, so each refusal below has one cause', async () => {
    const answer = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(await forgeUserToken()),
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });

  it('refuses a subject token that is not a JWT', async () => {
    await refused(
      'orders',
      { ...subjectOf('not-a-token'), resource: BILLING_MCP },
      'invalid_request',
      'subject_token_malformed',
    );
  });

  it('refuses an expired subject token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forgeUserToken({ iat: now - 600, exp: now - 60 });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'subject_token_expired',
    );
  });

  it('refuses a forged subject token (signed by a key the IdP does not hold)', async () => {
    const { privateKey } = await (await import('jose')).generateKeyPair('ES256');
    const token = await forgeUserToken({}, {}, privateKey);
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'subject_signature_invalid',
    );
  });

  it('refuses a subject token from an issuer the broker does not trust', async () => {
    const token = await forgeUserToken({ iss: 'http://127.0.0.1:9/evil-idp' });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'subject_issuer_untrusted',
    );
  });

  it('refuses an ID token or other JWT presented as an access token (typ)', async () => {
    const token = await forgeUserToken({}, { typ: 'JWT' });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'subject_typ_invalid',
    );
  });

  it('refuses a stolen user token at a client it was not issued to (no laundering)', async () => {
    await refused(
      'stranger',
      { ...subjectOf(userToken), resource: BILLING_MCP },
      'invalid_request',
      'subject_not_for_client',
    );
  });

  it('refuses when the subject token names another party in may_act', async () => {
    const token = await forgeUserToken({ may_act: { sub: 'billing-mcp', iss: stack.broker.issuer } });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'may_act_mismatch',
    );
  });

  it('refuses a may_act naming the client id under another issuer (RFC 8693 §4.4: sub and iss)', async () => {
    const token = await forgeUserToken({
      aud: 'http://127.0.0.1:4199/elsewhere',
      may_act: { sub: 'orders-mcp', iss: 'https://other-broker.example' },
    });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'may_act_mismatch',
    );
  });

  it("refuses a may_act naming the client id in the identity provider's own namespace (iss = the subject token's issuer)", async () => {
    // The identity provider's "orders-mcp" is its own client, not the party this broker authenticated.
    const token = await forgeUserToken({
      aud: 'http://127.0.0.1:4199/elsewhere',
      may_act: { sub: 'orders-mcp', iss: stack.idp.issuer },
    });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'may_act_mismatch',
    );
  });

  it('refuses a may_act without iss, which could name a party of that id anywhere', async () => {
    const token = await forgeUserToken({
      aud: 'http://127.0.0.1:4199/elsewhere',
      may_act: { sub: 'orders-mcp' },
    });
    await refused(
      'orders',
      { ...subjectOf(token), resource: BILLING_MCP },
      'invalid_request',
      'may_act_issuer_missing',
    );
  });

  it('honours may_act naming the client (sub and this broker as iss) even when the audience does not', async () => {
    const token = await forgeUserToken({
      aud: 'http://127.0.0.1:4199/elsewhere',
      may_act: { sub: 'orders-mcp', iss: stack.broker.issuer },
    });
    const answer = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(token),
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });

  it('refuses an actor token that does not identify the authenticated client', async () => {
    await refused(
      'orders',
      {
        ...subjectOf(userToken),
        resource: BILLING_MCP,
        actor_token: await forgeUserToken(),
        actor_token_type: ACCESS_TOKEN_TYPE,
      },
      'invalid_request',
      'actor_mismatch',
    );
  });

  it('refuses an audience no rule allows this client, saying why only in the log, never to the client', async () => {
    const { body, detail } = await refused(
      'orders',
      { ...subjectOf(userToken), resource: BILLING_API },
      'invalid_target',
      'policy_denied',
    );
    assert.equal(body.error_description, 'the declared policy does not allow this token');
    assert.match(detail, /no rule permits client "orders-mcp" to exchange for audience/);
  });

  it('refuses an audience the broker does not serve, and more than one audience', async () => {
    await refused(
      'orders',
      { ...subjectOf(userToken), resource: 'http://127.0.0.1:9/unknown' },
      'invalid_target',
      'audience_unknown',
    );
    const answer = await fetch(`${stack.broker.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['grant_type', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        ['client_id', 'orders-mcp'],
        ['client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'],
        ['client_assertion', await stack.orders.assertion(stack.broker.issuer)],
        ['subject_token', userToken],
        ['subject_token_type', ACCESS_TOKEN_TYPE],
        ['resource', BILLING_MCP],
        ['resource', BILLING_API],
      ]),
    });
    assert.equal(answer.status, 400);
    assert.equal(((await answer.json()) as { error: string }).error, 'invalid_target');
  });

  it('refuses a scope wider than the subject token', async () => {
    const narrow = await stack.userToken('alice', 'orders:read');
    await refused(
      'orders',
      { ...subjectOf(narrow), resource: BILLING_MCP, scope: 'billing:read' },
      'invalid_scope',
      'scope_wider_than_subject',
    );
  });

  it('audits a refusal with what the checks before the refusing one established, and nothing after', async () => {
    const narrow = await stack.userToken('alice', 'orders:read');
    const agent = decodeJwt(narrow).client_id;
    let before = stack.audit.events.length;
    await refused(
      'orders',
      { ...subjectOf(narrow), resource: BILLING_MCP, scope: 'billing:read' },
      'invalid_scope',
      'scope_wider_than_subject',
    );
    const late = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(late?.initiator.sub, 'user-alice', 'the subject was verified before the scope check');
    assert.equal(late?.target.name, BILLING_MCP);
    assert.equal(late?.delegation_mode, 'on_behalf_of');
    assert.deepEqual(late?.chain, ['orders-mcp', agent]);
    assert.deepEqual(late?.scopes_requested, ['billing:read'], 'the scopes asked, as asked');
    assert.deepEqual(late?.scopes, [], 'nothing granted');

    before = stack.audit.events.length;
    await refused(
      'orders',
      { ...subjectOf(userToken), resource: 'http://127.0.0.1:9/unknown', scope: 'billing:read' },
      'invalid_target',
      'audience_unknown',
    );
    const early = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    assert.equal(early?.initiator.sub, '(unverified)', 'refused before the subject token was verified');
    assert.equal(early?.target.name, '(none)', 'an audience the broker does not serve is not written as one');
    assert.deepEqual(early?.chain, ['orders-mcp']);
    assert.equal(early?.scopes_requested, undefined);
  });

  it('refuses impersonation where policy does not explicitly allow it, naming the rule in the log only', async () => {
    const { detail } = await refused(
      'orders',
      { ...subjectOf(userToken), resource: BILLING_MCP, delegation_mode: 'restricted_user' },
      'invalid_request',
      'impersonation_not_allowed',
    );
    assert.match(detail, /no-impersonation-elsewhere/);
  });

  it('refuses an unauthenticated client and a client with the wrong key', async () => {
    const unauthenticated = await fetch(`${stack.broker.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: 'orders-mcp',
        ...subjectOf(userToken),
        resource: BILLING_MCP,
      }),
    });
    assert.equal(unauthenticated.status, 401);
    assert.equal(((await unauthenticated.json()) as { error: string }).error, 'invalid_client');
    // An assertion naming orders-mcp and its registered kid, signed with a key that is not orders-mcp's.
    const { generateKeyPair } = await import('jose');
    const { privateKey } = await generateKeyPair('ES256');
    const kid = (stack.orders.metadata.jwks as { keys: Array<{ kid: string }> }).keys[0]!.kid;
    const now = Math.floor(Date.now() / 1000);
    const forgedAssertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer('orders-mcp')
      .setSubject('orders-mcp')
      .setAudience(stack.broker.issuer)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const impostor = await exchange(
      stack.broker.issuer,
      stack.orders,
      { ...subjectOf(userToken), resource: BILLING_MCP },
      { assertion: forgedAssertion },
    );
    assert.equal(impostor.status, 401);
    assert.equal(impostor.body.error, 'invalid_client');
  });

  it('refuses a replayed client assertion', async () => {
    const assertion = await stack.orders.assertion(stack.broker.issuer);
    const first = await exchange(
      stack.broker.issuer,
      stack.orders,
      { ...subjectOf(userToken), resource: BILLING_MCP },
      { assertion },
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await exchange(
      stack.broker.issuer,
      stack.orders,
      { ...subjectOf(userToken), resource: BILLING_MCP },
      { assertion },
    );
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'invalid_client');
  });

  it('refuses a chain deeper than the policy allows, naming the rule in the log only', async () => {
    const strict = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: POLICY.replace('@max_depth("2")', '@max_depth("1")'),
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
    });
    try {
      const token = await strict.userToken();
      const first = await exchange(strict.broker.issuer, strict.orders, {
        ...subjectOf(token),
        resource: BILLING_MCP,
      });
      assert.equal(first.status, 200);
      const second = await exchange(strict.broker.issuer, strict.billing, {
        ...subjectOf(first.body.access_token as string),
        resource: BILLING_API,
      });
      assert.equal(second.status, 400);
      assert.equal(second.body.error, 'invalid_request');
      assertNothingPrivate(second.body);
      assert.equal(strict.audit.events.at(-1)?.reason, 'depth_exceeded');
      assert.match(String(strict.logs.at(-1)?.detail), /@max_depth 1 of rule "billing-to-api"/);
    } finally {
      await strict.close();
    }
  });

  it('refuses a request without a subject_token, naming the missing parameters', async () => {
    const { body } = await refused(
      'orders',
      { subject_token_type: ACCESS_TOKEN_TYPE, resource: BILLING_MCP },
      'invalid_request',
      'parameters_missing',
    );
    assert.match(String(body.error_description), /subject_token and subject_token_type are required/);
  });

  it('refuses a subject_token_type the broker does not accept, naming the accepted ones', async () => {
    const { body } = await refused(
      'orders',
      {
        subject_token: userToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:saml2',
        resource: BILLING_MCP,
      },
      'invalid_request',
      'subject_token_type_unsupported',
    );
    assert.match(String(body.error_description), /subject_token_type must be/);
    assert.ok(String(body.error_description).includes(ACCESS_TOKEN_TYPE));
  });

  it('refuses a requested_token_type the broker does not issue', async () => {
    const { body } = await refused(
      'orders',
      {
        ...subjectOf(userToken),
        resource: BILLING_MCP,
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      },
      'invalid_request',
      'requested_token_type_unsupported',
    );
    assert.match(String(body.error_description), /requested_token_type is not one this broker issues/);
  });

  it('refuses an actor_token_type that is not an access token type', async () => {
    const { body } = await refused(
      'orders',
      {
        ...subjectOf(userToken),
        resource: BILLING_MCP,
        actor_token: await forgeUserToken(),
        actor_token_type: 'urn:ietf:params:oauth:token-type:saml2',
      },
      'invalid_request',
      'actor_token_type_unsupported',
    );
    assert.match(String(body.error_description), /actor_token_type must be an access token type/);
  });

  it('refuses an unknown delegation_mode, naming the known ones', async () => {
    const { body } = await refused(
      'orders',
      { ...subjectOf(userToken), resource: BILLING_MCP, delegation_mode: 'sideways' },
      'invalid_request',
      'delegation_mode_unknown',
    );
    assert.match(String(body.error_description), /delegation_mode must be on_behalf_of or restricted_user/);
  });
});

describe('token exchange: Transaction Tokens are bounded by policy and subject, and share the trace', () => {
  let stack: BrokerStack;
  let idpKey: CryptoKey | Uint8Array;

  before(async () => {
    const policies = POLICY.replace(
      '@id("orders-to-billing")\n@lifetime("300")',
      '@id("orders-to-billing")\n@lifetime("30")',
    );
    assert.notEqual(policies, POLICY, 'the fixture policy carries @lifetime("30") for orders-to-billing');
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({ policies, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
    });
    idpKey = await importJWK(stack.idpSigningJwk as JWK, 'ES256');
  });
  after(() => stack.close());

  const txnToken = (subjectToken: string, headers: Record<string, string> = {}) =>
    exchange(
      stack.broker.issuer,
      stack.orders,
      {
        ...subjectOf(subjectToken),
        resource: BILLING_MCP,
        audience: 'baton.test',
        requested_token_type: TXN_TOKEN_TYPE,
        scope: 'billing:read',
      },
      { headers },
    );

  const verified = (token: string) =>
    verifyEnvelope(token, {
      issuer: stack.broker.issuer,
      trustDomain: 'baton.test',
      keys: remoteJwksResolver(new URL(`${stack.broker.issuer}/jwks`)),
    });

  it("lives no longer than the permitting rule's @lifetime", async () => {
    const { status, body } = await txnToken(await stack.userToken());
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.expires_in, 30);
    const claims = decodeJwt(body.access_token as string);
    assert.ok((claims.exp as number) - (claims.iat as number) <= 30, 'exp - iat within @lifetime("30")');
    const envelope = await verified(body.access_token as string);
    assert.ok(envelope.expires_at - envelope.issued_at <= 30);
  });

  it('never outlives its subject token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const subjectToken = await new SignJWT({
      iss: stack.idp.issuer,
      aud: ORDERS_MCP,
      sub: 'user-alice',
      client_id: 'agent-under-test',
      scope: 'orders:read billing:read',
      iat: now,
      exp: now + 12,
      jti: randomUUID(),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: stack.idpSigningJwk.kid as string })
      .sign(idpKey);
    const { status, body } = await txnToken(subjectToken);
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok((body.expires_in as number) <= 12, `expires_in ${body.expires_in} within the subject's 12 s`);
    const claims = decodeJwt(body.access_token as string);
    assert.ok((claims.exp as number) <= now + 12, "exp not after the subject token's exp");
  });

  it('is recorded in the registry, so revoking its subject or root grant covers it', async () => {
    const { status, body } = await txnToken(await stack.userToken());
    assert.equal(status, 200, JSON.stringify(body));
    const { jti, sub } = decodeJwt(body.access_token as string);
    const now = Math.floor(Date.now() / 1000);
    const record = await stack.broker.registry.find(jti as string);
    assert.equal(record?.subject, sub);
    assert.equal(record?.clientId, 'orders-mcp');
    assert.equal(record?.audience, BILLING_MCP);
    assert.equal(await stack.broker.registry.isActive(jti as string, now), true);
    await stack.broker.registry.revoke({ root: record!.root });
    assert.equal(await stack.broker.registry.isActive(jti as string, now), false);
  });

  it("carries the exchange's trace id, the one its audit event records", async () => {
    const userToken = await stack.userToken();
    const before = stack.audit.events.length;
    const { status, body } = await txnToken(userToken);
    assert.equal(status, 200, JSON.stringify(body));
    const event = stack.audit.events.slice(before).find((candidate) => candidate.outcome === 'ok');
    const envelope = await verified(body.access_token as string);
    assert.equal(typeof event?.trace_id, 'string');
    assert.equal(envelope.session.trace_id, event?.trace_id);
    assert.equal(decodeJwt(body.access_token as string).txn, event?.trace_id);

    // With an incoming traceparent, both carry its trace id.
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const afterFirst = stack.audit.events.length;
    const traced = await txnToken(userToken, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    assert.equal(traced.status, 200, JSON.stringify(traced.body));
    const tracedEvent = stack.audit.events.slice(afterFirst).find((candidate) => candidate.outcome === 'ok');
    assert.equal(tracedEvent?.trace_id, traceId);
    assert.equal((await verified(traced.body.access_token as string)).session.trace_id, traceId);
  });
});

describe('token exchange: refusals are classified on the policy decision, not its wording', () => {
  let stack: BrokerStack;

  before(async () => {
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: `
          @id("orders-may-read-orders-at-billing")
          permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
          when { context.mode == "on_behalf_of" && context.scope == "orders:read" };

          @id("orders-to-legacy")
          permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${LEGACY_API}")
          when { context.mode == "on_behalf_of" && context.scope == "orders:read" };

          @id("no_max_depth_here")
          forbid (principal == Baton::Client::"orders-mcp", action, resource == Baton::Audience::"${LEGACY_API}");
        `,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
    });
  });
  after(() => stack.close());

  async function attempt(parameters: Record<string, string>) {
    const before = stack.audit.events.length;
    const answer = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(await stack.userToken()),
      ...parameters,
    });
    const denial = stack.audit.events.slice(before).find((event) => event.outcome === 'denied');
    return { ...answer, reason: denial?.reason };
  }

  it('files a forbid whose @id mentions max_depth as a policy denial, not a depth refusal', async () => {
    const { status, body, reason } = await attempt({ resource: LEGACY_API, scope: 'orders:read' });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    assert.equal(reason, 'policy_denied');
    assertNothingPrivate(body);
    assert.match(String(stack.logs.at(-1)?.detail), /no_max_depth_here/);
  });

  it('answers invalid_scope when the policy permits the target but none of the requested scopes', async () => {
    const { status, body, reason } = await attempt({ resource: BILLING_MCP, scope: 'billing:read' });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_scope');
    assert.equal(reason, 'scope_not_permitted');
    assert.equal(body.error_description, 'the declared policy permits none of the requested scopes');
    const permitted = await attempt({ resource: BILLING_MCP, scope: 'orders:read' });
    assert.equal(permitted.status, 200, JSON.stringify(permitted.body));
  });

  it('still answers invalid_target when no rule permits this client the audience at all', async () => {
    const { status, body, reason } = await attempt({ resource: BILLING_API, scope: 'billing:read' });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    assert.equal(reason, 'policy_denied');
  });
});

describe('token exchange: a custom policy engine sees a Transaction Token as txn_token', () => {
  let stack: BrokerStack;
  const seen: ExchangeFacts[] = [];
  // An operator's engine: orders-mcp may get its own token (service identity), nothing that acts for a person.
  const engine: PolicyEngine = {
    decide(facts) {
      seen.push(facts);
      return facts.mode === 'service_identity' && facts.client === 'orders-mcp'
        ? { allowed: true, grantedScopes: [...facts.scopes], lifetimeSeconds: 60, maxDepth: 3, reasons: [] }
        : {
            allowed: false,
            grantedScopes: [],
            lifetimeSeconds: 0,
            maxDepth: 0,
            reasons: ['no'],
            refusal: 'not_permitted',
          };
    },
  };

  before(async () => {
    stack = await startBrokerStack({ policy: engine });
  });
  after(() => stack.close());

  it("refuses a compromised service a Txn-Token for a person under a rule meant for the service's own token", async () => {
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(await stack.userToken()),
      resource: BILLING_MCP,
      audience: 'baton.test',
      requested_token_type: TXN_TOKEN_TYPE,
      scope: 'billing:read',
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    const facts = seen.at(-1);
    assert.equal(facts?.mode, 'txn_token');
    assert.equal(facts?.tokenKind, 'txn_token');
    assert.equal(facts?.subjectType, 'user');
  });
});

describe('expires_in of an exchanged token', () => {
  /** A registry slow to record (a store round trip): the token is dated before it is recorded. */
  class SlowRegistry extends MemoryTokenRegistry {
    override async record(token: IssuedToken): Promise<void> {
      await sleep(1100);
      return super.record(token);
    }
  }
  let stack: BrokerStack;
  before(async () => {
    stack = await startBrokerStack({ registry: new SlowRegistry() });
  });
  after(() => stack.close());

  it('never promises more than the token has left (expires_in ≤ exp − now)', async () => {
    const { status, body } = await exchange(stack.broker.issuer, stack.orders, {
      ...subjectOf(await stack.userToken()),
      resource: BILLING_MCP,
      scope: 'billing:read',
    });
    assert.equal(status, 200, JSON.stringify(body));
    const { exp } = decodeJwt(body.access_token as string);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(
      (body.expires_in as number) <= (exp as number) - now,
      `expires_in ${body.expires_in} within exp - now ${(exp as number) - now}`,
    );
  });
});
