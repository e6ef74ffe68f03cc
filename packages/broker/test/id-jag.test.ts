import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import {
  type DemoIdp,
  generateSigningJwk,
  ID_JAG_DRAFT,
  ID_JAG_TOKEN_TYPE,
  obtainUserAccessToken,
  startDemoIdp,
} from '@baton/demo-idp';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import {
  ACCESS_TOKEN_TYPE,
  ID_JAG_DRAFT as BROKER_ID_JAG_DRAFT,
  type Broker,
  type BrokerOptions,
  IDENTITY_CHAINING_DRAFT,
  JWT_BEARER_GRANT,
  startBroker,
} from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import { generateSigningJwk as generateBrokerKey } from '../src/signing-keys.ts';
import { createMemoryAdapterFactory } from '../src/stores/memory-adapter.ts';
import { exchange, introspect, type ServiceClient, serviceClient } from './fixtures/service-client.ts';

const ORDERS_MCP = 'http://127.0.0.1:4301/mcp';
const IDP_API = 'http://127.0.0.1:4302/profile';
const BILLING_MCP = 'http://127.0.0.1:4304/mcp';
const REDIRECT_URI = 'http://127.0.0.1/callback';
/** The agent is a confidential client at the IdP too (ID-JAG draft §7.1). */
const AGENT_SECRET_AT_IDP = 'agent-secret-at-the-idp-0123456789';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** A home domain whose grants the broker also redeems: its visitors are named `<HOME>|<id>` here. */
const HOME = 'https://broker.home.example';

const POLICY = `
@id("agent-reads-orders")
@lifetime("300")
permit (principal == Baton::Client::"agent", action == Baton::Action::"exchange", resource == Baton::Audience::"${ORDERS_MCP}")
when { context.mode == "on_behalf_of" && context.scope == "orders:read" };

@id("orders-mcp-calls-billing")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "on_behalf_of" && context.scope == "orders:read" };
`;

/** A client as the operator lists it at the broker: a secret (client_secret_basic), the jwt-bearer grant. */
function secretClient(clientId: string) {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-at-the-broker-0123456789`,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [JWT_BEARER_GRANT],
    response_types: [],
    redirect_uris: [],
  };
}

async function post(url: string, body: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('ID-JAG (enterprise-managed authorization): the broker redeems identity assertion grants', () => {
  let idp: DemoIdp;
  let idpKey: JWK;
  let broker: Broker;
  let ordersMcp: ServiceClient;
  let redeemed: string;
  const audit = new MemoryAuditSink();
  let idToken: string;

  const redeem = (assertion: string, extra: Record<string, string> = {}, client = secretClient('agent')) =>
    post(
      `${broker.issuer}/token`,
      { grant_type: JWT_BEARER_GRANT, assertion, ...extra },
      { authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}` },
    );

  /** An ID-JAG valid in every way but what `change` alters, signed with the identity provider's key. */
  async function idJag(
    change: { claims?: Record<string, unknown>; typ?: string; key?: JWK; issuer?: string } = {},
  ) {
    const now = Math.floor(Date.now() / 1000);
    const key = change.key ?? idpKey;
    return new SignJWT({
      client_id: 'agent',
      resource: ORDERS_MCP,
      scope: 'orders:read',
      tenant: 'acme',
      jti: randomUUID(),
      iat: now,
      exp: now + 120,
      sub: 'user-alice',
      aud: broker.issuer,
      iss: change.issuer ?? idp.issuer,
      ...change.claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid as string, typ: change.typ ?? 'oauth-id-jag+jwt' })
      .sign(await importJWK(key, 'ES256'));
  }

  const lastEvent = (): AuditEvent => audit.events.at(-1)!;

  before(async () => {
    idpKey = (await generateSigningJwk()) as JWK;
    idp = await startDemoIdp({
      signingJwk: idpKey as never,
      resources: [{ resource: IDP_API, scopes: ['profile:read'] }],
      clients: [
        {
          client_id: 'agent',
          client_secret: AGENT_SECRET_AT_IDP,
          token_endpoint_auth_method: 'client_secret_post',
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', TOKEN_EXCHANGE],
          response_types: ['code'],
        },
      ],
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          {
            issuer: broker.issuer,
            resources: [{ resource: ORDERS_MCP, scopes: ['orders:read', 'orders:write'] }],
            clients: ['agent'],
          },
        ],
      },
    });
    ordersMcp = await serviceClient('orders-mcp', [ORDERS_MCP]);
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        { resource: ORDERS_MCP, scopes: ['orders:read', 'orders:write'] },
        { resource: BILLING_MCP, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
      audit,
      clients: [secretClient('agent'), secretClient('stranger-agent'), ordersMcp.metadata] as never,
      initialAccessToken: 'test-initial-access-token',
      identityAssertionGrants: { draft: BROKER_ID_JAG_DRAFT, issuers: [idp.issuer] },
      identityChaining: {
        draft: IDENTITY_CHAINING_DRAFT,
        homeDomains: [{ issuer: HOME, jwksUri: `${HOME}/jwks` }],
      },
    });
    const signedIn = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: IDP_API,
      scope: 'openid profile:read',
      clientId: 'agent',
      clientSecret: AGENT_SECRET_AT_IDP,
      redirectUri: REDIRECT_URI,
    });
    idToken = signedIn.id_token!;
    assert.ok(idToken, 'the sign-in returned an ID token');
  });
  after(async () => {
    await broker?.close();
    await idp?.close();
  });

  let issuedIdJag: string;

  it('the identity provider issues an ID-JAG by token exchange for the ID token (draft §4.3)', async () => {
    const { status, body } = await post(`${idp.issuer}/token`, {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ID_JAG_TOKEN_TYPE,
      audience: broker.issuer,
      resource: ORDERS_MCP,
      scope: 'orders:read',
      subject_token: idToken,
      subject_token_type: ID_TOKEN_TYPE,
      client_id: 'agent',
      client_secret: AGENT_SECRET_AT_IDP,
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.issued_token_type, ID_JAG_TOKEN_TYPE);
    assert.equal(body.token_type, 'N_A');
    assert.equal(body.scope, 'orders:read');
    issuedIdJag = body.access_token as string;
    assert.equal(decodeProtectedHeader(issuedIdJag).typ, 'oauth-id-jag+jwt');
    const { payload } = await jwtVerify(issuedIdJag, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: broker.issuer,
      typ: 'oauth-id-jag+jwt',
    });
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.client_id, 'agent');
    assert.equal(payload.resource, ORDERS_MCP);
    assert.equal(payload.tenant, 'acme');
    assert.equal(typeof payload.jti, 'string');
  });

  it('the identity provider refuses an ID-JAG for an authorization server it was not configured for', async () => {
    const { status, body } = await post(`${idp.issuer}/token`, {
      grant_type: TOKEN_EXCHANGE,
      requested_token_type: ID_JAG_TOKEN_TYPE,
      audience: 'http://127.0.0.1:1/elsewhere',
      subject_token: idToken,
      subject_token_type: ID_TOKEN_TYPE,
      client_id: 'agent',
      client_secret: AGENT_SECRET_AT_IDP,
    });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_target');
  });

  it('redeems the ID-JAG (RFC 7523 jwt-bearer) for an access token for the MCP server, audited', async () => {
    const { status, body } = await redeem(issuedIdJag);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'orders:read');
    redeemed = body.access_token as string;
    const { payload } = await jwtVerify(
      body.access_token as string,
      createRemoteJWKSet(new URL(`${broker.issuer}/jwks`)),
      { issuer: broker.issuer, audience: ORDERS_MCP, typ: 'at+jwt' },
    );
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.client_id, 'agent');
    assert.equal(payload.tenant, 'acme');
    assert.deepEqual(
      payload.act,
      { sub: 'agent' },
      'the agent starts the chain, so the MCP server can exchange onward',
    );
    assert.ok((payload.exp as number) <= (decodeJwt(issuedIdJag).exp as number), 'never outlives the ID-JAG');
    const event = lastEvent();
    assert.equal(event.outcome, 'ok');
    assert.equal(event.initiator.sub, 'user-alice');
    assert.equal(event.agent.client_id, 'agent');
    assert.equal(event.delegation_mode, 'on_behalf_of');
    assert.deepEqual(event.chain, ['agent']);
    assert.equal(event.target.name, ORDERS_MCP);
    assert.ok(!JSON.stringify(audit.events).includes(issuedIdJag), 'the assertion is never audited');
  });

  it('the MCP server exchanges that token onward (RFC 8693): the chain continues from the agent', async () => {
    const { status, body } = await exchange(broker.issuer, ordersMcp, {
      subject_token: redeemed,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      resource: BILLING_MCP,
      scope: 'orders:read',
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(decodeJwt(body.access_token as string).act, {
      sub: 'orders-mcp',
      act: { sub: 'agent' },
    });
    assert.deepEqual(lastEvent().chain, ['orders-mcp', 'agent']);
    assert.equal(lastEvent().initiator.sub, 'user-alice');
  });

  it('revoking the ID-JAG’s grant (its root) ends every token derived from it', async () => {
    const root = `${idp.issuer}#${decodeJwt(issuedIdJag).jti}`;
    assert.equal((await introspect(broker.issuer, ordersMcp, redeemed)).body.active, true);
    await broker.revoke({ root }, { actor: 'ops', reason: 'test' });
    assert.equal((await introspect(broker.issuer, ordersMcp, redeemed)).body.active, false);
  });

  /** The answer and the audit event of a refused redemption. */
  async function refused(
    answer: Promise<{ status: number; body: Record<string, unknown> }>,
    error: string,
    reason: string,
  ) {
    const before = audit.events.length;
    const { status, body } = await answer;
    assert.equal(body.error, error, JSON.stringify(body));
    assert.equal(status, error === 'invalid_client' ? 401 : 400);
    assert.equal(typeof body.error_description, 'string');
    if (error !== 'invalid_client') {
      assert.equal(audit.events.length, before + 1, 'the refusal is audited');
      assert.equal(lastEvent().outcome, 'denied');
      assert.equal(lastEvent().reason, reason);
    }
  }

  it('refuses a replayed ID-JAG', async () => {
    await refused(redeem(issuedIdJag), 'invalid_grant', 'assertion_replayed');
  });

  it('refuses an ID-JAG issued to another client (client_id mismatch)', async () => {
    await refused(
      redeem(await idJag({ claims: { client_id: 'other-agent' } })),
      'invalid_grant',
      'assertion_client_mismatch',
    );
  });

  it('refuses an ID-JAG minted for another authorization server (wrong aud)', async () => {
    await refused(
      redeem(await idJag({ claims: { aud: 'http://127.0.0.1:1/other-as' } })),
      'invalid_grant',
      'assertion_audience_invalid',
    );
  });

  it('refuses an ID-JAG naming this broker among other audiences (audience injection, draft §4.4.1)', async () => {
    await refused(
      redeem(await idJag({ claims: { aud: [broker.issuer, 'http://127.0.0.1:1/other-as'] } })),
      'invalid_grant',
      'assertion_audience_invalid',
    );
  });

  it('accepts an ID-JAG whose aud is an array of exactly this broker', async () => {
    const { status, body } = await redeem(await idJag({ claims: { aud: [broker.issuer] } }));
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('an ID-JAG naming several resources is redeemed for the one the request names, and only for one of them', async () => {
    const several = { resource: [ORDERS_MCP, 'http://127.0.0.1:4305/other'] };
    const { status, body } = await redeem(await idJag({ claims: several }), { resource: ORDERS_MCP });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(decodeJwt(body.access_token as string).aud, ORDERS_MCP);
    await refused(redeem(await idJag({ claims: several })), 'invalid_target', 'audience_count');
    await refused(
      redeem(await idJag({ claims: several }), { resource: BILLING_MCP }),
      'invalid_target',
      'assertion_resource_mismatch',
    );
  });

  it('advertises the ID-JAG grant profile and the jwt-bearer grant in its metadata (draft §6.2)', async () => {
    const metadata = (await (await fetch(`${broker.issuer}/.well-known/openid-configuration`)).json()) as {
      authorization_grant_profiles_supported?: string[];
      grant_types_supported: string[];
    };
    assert.deepEqual(metadata.authorization_grant_profiles_supported, [
      'urn:ietf:params:oauth:grant-profile:id-jag',
    ]);
    assert.ok(metadata.grant_types_supported.includes(JWT_BEARER_GRANT));
  });

  it('refuses an ID token presented as the assertion (wrong typ)', async () => {
    await refused(redeem(idToken), 'invalid_grant', 'assertion_typ_invalid');
  });

  it('refuses an access-token-typed JWT presented as the assertion (typ at+jwt)', async () => {
    await refused(redeem(await idJag({ typ: 'at+jwt' })), 'invalid_grant', 'assertion_typ_invalid');
  });

  it("refuses a trusted identity provider's subject named like a visitor (<home>|x)", async () => {
    // Its ID-JAG, by subject, tenant or session …
    for (const claims of [{ sub: `${HOME}|alice` }, { tenant: `${HOME}|acme` }, { sid: `${HOME}|s1` }]) {
      await refused(redeem(await idJag({ claims })), 'invalid_grant', 'assertion_claims_invalid');
    }
    // … and its access token, presented for exchange.
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({
      client_id: 'agent',
      scope: 'orders:read',
      jti: randomUUID(),
      sub: `${HOME}|alice`,
    })
      .setProtectedHeader({ alg: 'ES256', kid: idpKey.kid as string, typ: 'at+jwt' })
      .setIssuer(idp.issuer)
      .setAudience(ORDERS_MCP)
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .sign(await importJWK(idpKey, 'ES256'));
    await refused(
      exchange(broker.issuer, ordersMcp, {
        subject_token: accessToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
        scope: 'orders:read',
      }),
      'invalid_request',
      'subject_claims_invalid',
    );
  });

  it('refuses an expired ID-JAG', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(
      redeem(await idJag({ claims: { iat: now - 200, exp: now - 60 } })),
      'invalid_grant',
      'assertion_expired',
    );
  });

  it('refuses an ID-JAG issued in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(
      redeem(await idJag({ claims: { iat: now + 600, exp: now + 900 } })),
      'invalid_grant',
      'assertion_expired',
    );
  });

  it('refuses an ID-JAG from an identity provider the broker does not trust', async () => {
    const stranger = (await generateSigningJwk()) as JWK;
    await refused(
      redeem(await idJag({ key: stranger, issuer: 'http://127.0.0.1:1/stranger-idp' })),
      'invalid_grant',
      'assertion_issuer_untrusted',
    );
  });

  it('refuses an ID-JAG signed by a key the trusted identity provider does not publish', async () => {
    const forged = (await generateSigningJwk()) as JWK;
    await refused(redeem(await idJag({ key: forged })), 'invalid_grant', 'assertion_signature_invalid');
  });

  it('refuses an HMAC-signed ID-JAG (algorithm confusion: only asymmetric signatures are accepted)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const hmac = await new SignJWT({ client_id: 'agent', resource: ORDERS_MCP, scope: 'orders:read' })
      .setProtectedHeader({ alg: 'HS256', typ: 'oauth-id-jag+jwt' })
      .setIssuer(idp.issuer)
      .setSubject('user-alice')
      .setAudience(broker.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(new TextEncoder().encode('a-shared-secret-nobody-should-accept-0123456789'));
    await refused(redeem(hmac), 'invalid_grant', 'assertion_signature_invalid');
  });

  it('refuses an ID-JAG without a jti (it could not be redeemed once)', async () => {
    await refused(
      redeem(await idJag({ claims: { jti: undefined } })),
      'invalid_grant',
      'assertion_claims_invalid',
    );
  });

  it('refuses a scope wider than the ID-JAG grants', async () => {
    await refused(
      redeem(await idJag(), { scope: 'orders:read orders:write' }),
      'invalid_scope',
      'scope_wider_than_assertion',
    );
  });

  it('refuses a request naming another resource than the ID-JAG', async () => {
    await refused(
      redeem(await idJag(), { resource: 'http://127.0.0.1:4303/other' }),
      'invalid_target',
      'assertion_resource_mismatch',
    );
  });

  it('refuses an ID-JAG for a resource the broker does not issue tokens for', async () => {
    await refused(
      redeem(await idJag({ claims: { resource: 'http://127.0.0.1:4303/other' } })),
      'invalid_target',
      'audience_unknown',
    );
  });

  it('refuses, and audits, what the declared policy does not allow', async () => {
    const client = secretClient('stranger-agent');
    await refused(
      redeem(await idJag({ claims: { client_id: 'stranger-agent' } }), {}, client),
      'invalid_target',
      'policy_denied',
    );
    assert.deepEqual(lastEvent().chain, ['stranger-agent']);
    assert.equal(lastEvent().initiator.sub, 'user-alice');
  });

  it('refuses a client that fails to authenticate (invalid_client)', async () => {
    await refused(
      redeem(await idJag(), {}, { ...secretClient('agent'), client_secret: 'wrong-secret' }),
      'invalid_client',
      '',
    );
  });

  it('refuses a client that self-registers granting itself jwt-bearer without approval', async () => {
    // A client that redeems ID-JAGs (and home brokers' grants) is the operator's to approve, as one
    // with client_credentials is: the plain initial access token approves neither.
    const response = await fetch(new URL('/reg', broker.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-initial-access-token' },
      body: JSON.stringify({
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [JWT_BEARER_GRANT],
        response_types: [],
        redirect_uris: [],
      }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_client_metadata');
    assert.equal(body.error_description, "the jwt-bearer grant needs the operator's approval");
  });

  it('an ID-JAG redeemed at one broker instance is refused as a replay at another sharing the store', async () => {
    const issuer = 'http://broker.example';
    const shared: BrokerOptions = {
      issuer,
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [{ resource: ORDERS_MCP, scopes: ['orders:read'] }],
      policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
      audit,
      clients: [secretClient('agent')] as never,
      initialAccessToken: 'test-initial-access-token',
      identityAssertionGrants: { draft: BROKER_ID_JAG_DRAFT, issuers: [idp.issuer] },
      signingKeys: [await generateBrokerKey()],
      adapter: createMemoryAdapterFactory(),
      registry: new MemoryTokenRegistry(),
    };
    const first = await startBroker(shared);
    const second = await startBroker(shared);
    try {
      const assertion = await idJag({ claims: { aud: issuer } });
      const at = (instance: Broker) =>
        post(
          new URL('/token', instance.url).href,
          { grant_type: JWT_BEARER_GRANT, assertion },
          { authorization: `Basic ${btoa(`agent:${secretClient('agent').client_secret}`)}` },
        );
      assert.equal((await at(first)).status, 200);
      const replayed = await at(second);
      assert.equal(replayed.body.error, 'invalid_grant');
      assert.equal(lastEvent().reason, 'assertion_replayed');
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('refuses to start when an ID-JAG issuer is not among the trusted issuers', async () => {
    await assert.rejects(
      startBroker({
        trustedIssuers: [],
        audiences: [{ resource: ORDERS_MCP, scopes: ['orders:read'] }],
        policy: createCedarPolicyEngine({
          policies: POLICY,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
        audit,
        allowAnonymousRegistration: true,
        identityAssertionGrants: { draft: BROKER_ID_JAG_DRAFT, issuers: [idp.issuer] },
      }),
      /identityAssertionGrants\.issuers: .* is not among trustedIssuers/,
    );
  });
});
