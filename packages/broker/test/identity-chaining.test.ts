import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import { generateSigningJwk } from '@baton/demo-idp';
import { EVENT_TYPES, mintSecurityEventToken } from '@baton/shared-signals';
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
  AUTHORIZATION_GRANT_TYP,
  type Broker,
  IDENTITY_CHAINING_DRAFT,
  IDENTITY_PROVIDER_SIGNALS_PATH,
  JWT_BEARER_GRANT,
  startBroker,
} from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { generateSigningJwk as generateBrokerKey } from '../src/signing-keys.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, POLICY, startBrokerStack } from './fixtures/stack.ts';

const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/**
 * The foreign domain's authorization server, by its public issuer identifier (what a load balancer
 * would serve): the home broker is configured with it before the foreign one listens.
 */
const FOREIGN = 'http://as.partner.example';
const PARTNER_API = 'http://127.0.0.1:4401/partner-api';
const PARTNER_ADMIN = 'http://127.0.0.1:4402/partner-admin';

/** At home: the orders MCP server may take the user's orders:read to the partner's domain. */
const HOME_POLICY = `${POLICY}
@id("orders-to-partner-domain")
@lifetime("120")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${FOREIGN}")
when { context.mode == "on_behalf_of" && context.scope == "orders:read" };
`;

/** The partner's own ledger, which its own agent of its own tenant reads. */
const LEDGER = 'http://127.0.0.1:4403/ledger';
/** The partner's open API, with a rule written for its own clients (it names no grant). */
const OPEN_API = 'http://127.0.0.1:4404/open-api';

/**
 * In the partner's domain, its own policy: the visiting orders MCP server may read the partner API
 * only (a rule that admits visitors says so: `context.grant`). Its rules for its own agent and tenant
 * (`local-agent`, `acme`) and for its own clients say nothing of visitors, so they admit none.
 */
const FOREIGN_POLICY = `
@id("visiting-orders-reads-partner-api")
@lifetime("60")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${PARTNER_API}")
when { context.mode == "on_behalf_of" && context.scope == "orders:read" && context.grant == "identity_chaining" };

@id("local-agent-reads-ledger")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${LEDGER}")
when { context.mode == "on_behalf_of" && context.agent == "local-agent" && context.tenant == "acme" };

@id("orders-reads-open-api")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${OPEN_API}")
when { context.mode == "on_behalf_of" };

@id("partner-api-onward-for-own-people")
permit (principal == Baton::Client::"partner-api", action == Baton::Action::"exchange", resource == Baton::Audience::"${OPEN_API}")
when { context.mode == "on_behalf_of" || context.mode == "txn_token" };

@id("partner-api-onward-for-visitors")
permit (principal == Baton::Client::"partner-api", action == Baton::Action::"exchange", resource == Baton::Audience::"${PARTNER_ADMIN}")
when { (context.mode == "on_behalf_of" || context.mode == "txn_token") && context.grant == "identity_chaining" };

@id("partner-admin-replaces-for-own-people")
permit (principal == Baton::Client::"partner-admin", action == Baton::Action::"exchange", resource == Baton::Audience::"${PARTNER_ADMIN}")
when { context.mode == "txn_token" };
`;

/** The partner's own services, which the visitor's token reaches on later hops (RFC 8693, Txn-Tokens). */
const PARTNER_SERVICES = [
  { client_id: 'partner-api', resource: PARTNER_API },
  { client_id: 'partner-admin', resource: PARTNER_ADMIN },
].map(({ client_id, resource }) => ({
  client_id,
  client_secret: `${client_id}-secret-at-the-partner-0123456789`,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
  response_types: [],
  redirect_uris: [],
  baton_resources: [resource],
}));
const PARTNER_TRUST_DOMAIN = 'partner.example';

const ORDERS_AT_PARTNER = {
  client_id: 'orders-mcp',
  client_secret: 'orders-mcp-secret-at-the-partner-0123456789',
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: [JWT_BEARER_GRANT],
  response_types: [],
  redirect_uris: [],
};

describe('cross-domain hops (identity chaining): a home broker’s JWT authorization grant, redeemed by a foreign broker', () => {
  let home: BrokerStack;
  let foreign: Broker;
  const foreignAudit = new MemoryAuditSink();
  let userToken: string;
  const traceId = randomUUID().replaceAll('-', '');
  const traceparent = `00-${traceId}-${'a1'.repeat(8)}-01`;

  /** The orders MCP server asks its home broker for a grant for the partner's domain. */
  const grantAtHome = (parameters: Record<string, string> = {}) =>
    exchange(
      home.broker.issuer,
      home.orders,
      {
        subject_token: userToken,
        subject_token_type: ACCESS_TOKEN_TYPE,
        audience: FOREIGN,
        requested_token_type: JWT_TOKEN_TYPE,
        scope: 'orders:read',
        ...parameters,
      },
      { headers: { traceparent } },
    );

  /** … and presents it to the partner's broker (RFC 7523), authenticated as registered there. */
  const redeemAtForeign = async (
    assertion: string,
    parameters: Record<string, string> = { resource: PARTNER_API },
  ) => {
    const response = await fetch(new URL('/token', foreign.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${ORDERS_AT_PARTNER.client_id}:${ORDERS_AT_PARTNER.client_secret}`)}`,
      },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion, ...parameters }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const freshGrant = async () => {
    const { status, body } = await grantAtHome();
    assert.equal(status, 200, JSON.stringify(body));
    return body.access_token as string;
  };

  /** The home broker's own signing key: grants valid in every way but the one under test. */
  let homeKey: JWK;
  const homeGrant = async (change: { claims?: Record<string, unknown>; aud?: string; sub?: string }) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: 'orders-mcp',
      scope: 'orders:read',
      act: { sub: 'orders-mcp', act: { sub: 'agent', iss: home.idp.issuer } },
      ...change.claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: homeKey.kid as string, typ: AUTHORIZATION_GRANT_TYP })
      .setIssuer(home.broker.issuer)
      .setSubject(change.sub ?? 'user-alice')
      .setAudience(change.aud ?? FOREIGN)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(await importJWK(homeKey, 'ES256'));
  };

  before(async () => {
    homeKey = (await generateBrokerKey()) as JWK;
    home = await startBrokerStack({
      signingKeys: [homeKey as never],
      policy: createCedarPolicyEngine({
        policies: HOME_POLICY,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      identityChaining: {
        draft: IDENTITY_CHAINING_DRAFT,
        foreignDomains: [{ issuer: FOREIGN, scopes: ['orders:read'] }],
      },
    });
    foreign = await startBroker({
      issuer: FOREIGN,
      trustedIssuers: [],
      audiences: [
        { resource: PARTNER_API, scopes: ['orders:read'] },
        { resource: PARTNER_ADMIN, scopes: ['orders:read'] },
        { resource: LEDGER, scopes: ['orders:read'] },
        { resource: OPEN_API, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({
        policies: FOREIGN_POLICY,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: foreignAudit,
      clients: [ORDERS_AT_PARTNER, ...PARTNER_SERVICES] as never,
      initialAccessToken: 'partner-initial-access-token',
      identityChaining: { draft: IDENTITY_CHAINING_DRAFT, homeDomains: [{ issuer: home.broker.issuer }] },
      transactionTokens: { trustDomain: PARTNER_TRUST_DOMAIN },
      // The home broker's Shared Signals, pushed here (RFC 8935) as its transmitter would.
      identityProviderSignals: {
        issuers: [{ issuer: home.broker.issuer, jwksUri: `${home.broker.issuer}/jwks` }],
      },
    });
    userToken = await home.userToken();
  });
  after(async () => {
    await foreign?.close();
    await home?.close();
  });

  let grant: string;

  it('the home broker issues a short-lived, audience-bound JWT authorization grant carrying the chain', async () => {
    const { status, body } = await grantAtHome();
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.issued_token_type, JWT_TOKEN_TYPE);
    assert.equal(body.token_type, 'N_A');
    assert.equal(body.scope, 'orders:read');
    grant = body.access_token as string;
    assert.equal(decodeProtectedHeader(grant).typ, AUTHORIZATION_GRANT_TYP);
    const { payload } = await jwtVerify(grant, createRemoteJWKSet(new URL(`${home.broker.issuer}/jwks`)), {
      issuer: home.broker.issuer,
      audience: FOREIGN,
      typ: AUTHORIZATION_GRANT_TYP,
    });
    const user = decodeJwt(userToken);
    assert.equal(payload.sub, 'user-alice');
    assert.equal(payload.client_id, 'orders-mcp');
    assert.deepEqual(payload.act, { sub: 'orders-mcp', act: { sub: user.client_id, iss: home.idp.issuer } });
    assert.ok(
      (payload.exp as number) - (payload.iat as number) <= 120,
      'lives as long as the home policy allows',
    );
    assert.equal(payload.baton_root, `${home.idp.issuer}#${user.jti}`, 'names the root grant');
    assert.match(payload.baton_trace as string, new RegExp(`^00-${traceId}-`), 'carries the home trace');
    const event = home.audit.events.at(-1)!;
    assert.equal(event.outcome, 'ok');
    assert.equal(event.target.name, FOREIGN);
  });

  it('the foreign broker redeems it under its own policy, keeping the chain, in the same trace', async () => {
    const { status, body } = await redeemAtForeign(grant);
    assert.equal(status, 200, JSON.stringify(body));
    const { payload } = await jwtVerify(
      body.access_token as string,
      createRemoteJWKSet(new URL('/jwks', foreign.url)),
      {
        issuer: FOREIGN,
        audience: PARTNER_API,
        typ: 'at+jwt',
      },
    );
    const user = decodeJwt(userToken);
    const homeIssuer = home.broker.issuer;
    // The visitor's identities are the home domain's, named so here (qualified by the home issuer).
    assert.equal(payload.sub, `${homeIssuer}|user-alice`);
    assert.equal(payload.client_id, 'orders-mcp');
    assert.equal(payload.scope, 'orders:read');
    assert.equal(payload.tenant, `${homeIssuer}|acme`);
    assert.deepEqual(payload.act, {
      sub: 'orders-mcp',
      act: { sub: `${homeIssuer}|${user.client_id}`, iss: homeIssuer },
    });
    assert.ok((payload.exp as number) - (payload.iat as number) <= 60, 'the foreign policy’s lifetime');

    const homeEvent = home.audit.events.find(
      (event) => event.target.name === FOREIGN && event.outcome === 'ok',
    )!;
    const foreignEvent = foreignAudit.events.at(-1) as AuditEvent;
    assert.equal(foreignEvent.outcome, 'ok');
    assert.equal(foreignEvent.component, FOREIGN);
    assert.equal(foreignEvent.target.name, PARTNER_API);
    assert.equal(homeEvent.trace_id, traceId, 'the home hop joined the trusted client’s trace');
    assert.deepEqual(
      foreignEvent.linked_trace,
      { trace_id: traceId, span_id: homeEvent.span_id },
      'the audit chain crosses the domain boundary as a link to the home hop',
    );
    assert.notEqual(foreignEvent.trace_id, traceId, 'in a trace of the foreign domain’s own');
    assert.deepEqual(foreignEvent.chain, ['orders-mcp', `${homeIssuer}|${user.client_id}`]);
    assert.equal(foreignEvent.initiator.sub, `${homeIssuer}|user-alice`);
  });

  it('the home broker advertises the token type a client requests for another domain (chaining draft §3)', async () => {
    const metadata = (await (
      await fetch(`${home.broker.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    assert.deepEqual(metadata.identity_chaining_requested_token_types_supported, [JWT_TOKEN_TYPE]);
    const foreignMetadata = (await (
      await fetch(new URL('/.well-known/openid-configuration', foreign.url))
    ).json()) as {
      grant_types_supported: string[];
    };
    assert.ok(foreignMetadata.grant_types_supported.includes(JWT_BEARER_GRANT));
  });

  it('refuses a replayed grant', async () => {
    const { status, body } = await redeemAtForeign(grant);
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_replayed');
    // A refusal names the visitor as this domain does, never as one of its own people.
    assert.equal(foreignAudit.events.at(-1)!.initiator.sub, `${home.broker.issuer}|user-alice`);
  });

  it('the foreign policy decides: a resource it does not allow the visitor is refused and audited in the home trace', async () => {
    const { status, body } = await redeemAtForeign(await freshGrant(), { resource: PARTNER_ADMIN });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_target');
    const event = foreignAudit.events.at(-1)!;
    assert.equal(event.outcome, 'denied');
    assert.equal(event.reason, 'policy_denied');
    assert.equal(event.linked_trace?.trace_id, traceId);
  });

  it('refuses a grant from a broker the foreign domain does not trust', async () => {
    const rogue = (await generateSigningJwk()) as JWK;
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      client_id: 'orders-mcp',
      scope: 'orders:read',
      act: { sub: 'orders-mcp' },
    })
      .setProtectedHeader({ alg: 'ES256', kid: rogue.kid as string, typ: AUTHORIZATION_GRANT_TYP })
      .setIssuer('http://127.0.0.1:1/rogue-broker')
      .setSubject('user-alice')
      .setAudience(FOREIGN)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(await importJWK(rogue, 'ES256'));
    const { status, body } = await redeemAtForeign(forged);
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_issuer_untrusted');
  });

  it('refuses a grant claiming the home broker but signed by another key', async () => {
    const rogue = (await generateSigningJwk()) as JWK;
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ client_id: 'orders-mcp', act: { sub: 'orders-mcp' } })
      .setProtectedHeader({ alg: 'ES256', kid: rogue.kid as string, typ: AUTHORIZATION_GRANT_TYP })
      .setIssuer(home.broker.issuer)
      .setSubject('user-alice')
      .setAudience(FOREIGN)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(await importJWK(rogue, 'ES256'));
    const { body } = await redeemAtForeign(forged);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_signature_invalid');
  });

  it('accepts a grant naming the foreign broker by its token endpoint (RFC 7523 §3)', async () => {
    const { status, body } = await redeemAtForeign(await homeGrant({ aud: `${FOREIGN}/token` }));
    assert.equal(status, 200, JSON.stringify(body));
  });

  it('refuses a grant minted for another trust domain', async () => {
    const { body } = await redeemAtForeign(await homeGrant({ aud: 'http://as.other-partner.example' }));
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_audience_invalid');
  });

  it('refuses a grant without its delegation chain', async () => {
    const { body } = await redeemAtForeign(await homeGrant({ claims: { act: undefined } }));
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'act_missing');
  });

  it('refuses a home grant whose chain names no home actor (a visitor posing as the local client)', async () => {
    // The redeeming client alone in the chain, as the grant's subject: the local client would be the
    // agent, and the person-less visitor's token would name it unqualified (`sub: "orders-mcp"`).
    const { status, body } = await redeemAtForeign(
      await homeGrant({ sub: 'orders-mcp', claims: { act: { sub: 'orders-mcp' } } }),
    );
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'act_missing');
  });

  it('refuses a grant whose outermost actor is not the client it was issued to', async () => {
    const { body } = await redeemAtForeign(
      await homeGrant({ claims: { act: { sub: 'billing-mcp', act: { sub: 'agent' } } } }),
    );
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'act_malformed');
  });

  it('refuses a grant issued to another client', async () => {
    const { body } = await redeemAtForeign(await homeGrant({ claims: { client_id: 'billing-mcp' } }));
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_client_mismatch');
  });

  it('refuses a home access token presented as a grant (explicit typing)', async () => {
    const { body: exchanged } = await exchange(home.broker.issuer, home.orders, {
      subject_token: userToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'orders:read',
    });
    const { body } = await redeemAtForeign(exchanged.access_token as string);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'assertion_typ_invalid');
  });

  it('the home broker refuses a cross-domain audience asked for as an access token', async () => {
    const { status, body } = await grantAtHome({ requested_token_type: ACCESS_TOKEN_TYPE });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_request');
    assert.equal(home.audit.events.at(-1)!.reason, 'requested_token_type_unsupported');
  });

  it('the home policy decides who may leave the domain: a service it does not allow is refused, audited', async () => {
    const hop = await exchange(home.broker.issuer, home.orders, {
      subject_token: userToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
      scope: 'orders:read',
    });
    assert.equal(hop.status, 200, JSON.stringify(hop.body));
    const { status, body } = await exchange(home.broker.issuer, home.billing, {
      subject_token: hop.body.access_token as string,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: FOREIGN,
      requested_token_type: JWT_TOKEN_TYPE,
      scope: 'orders:read',
    });
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_target');
    const event = home.audit.events.at(-1)!;
    assert.equal(event.reason, 'policy_denied');
    assert.equal(event.target.name, FOREIGN);
  });

  it('refuses to let a home broker’s grant satisfy a policy rule written for a local agent and tenant', async () => {
    // The home broker signs a subject, tenant and agent of the foreign domain, the agent even claiming
    // a foreign issuer: the rule for the partner's own agent and tenant does not admit it.
    const grant = await homeGrant({
      claims: {
        tenant: 'acme',
        act: { sub: 'orders-mcp', act: { sub: 'local-agent', iss: FOREIGN } },
      },
    });
    const { status, body } = await redeemAtForeign(grant, { resource: LEDGER });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    const event = foreignAudit.events.at(-1)!;
    assert.equal(event.reason, 'policy_denied');
    assert.equal(event.initiator.tenant, `${home.broker.issuer}|acme`);
    assert.equal(event.agent.id, `${home.broker.issuer}|local-agent`);
  });

  it('refuses a visitor under a rule that does not admit grants from another trust domain', async () => {
    const { status, body } = await redeemAtForeign(await homeGrant({}), { resource: OPEN_API });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'visitor_not_admitted');
  });

  /** A partner service exchanges the visitor's token it was handed (RFC 8693), as one of its own people's. */
  const onward = async (client: string, parameters: Record<string, string>) => {
    const response = await fetch(new URL('/token', foreign.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${client}:${client}-secret-at-the-partner-0123456789`)}`,
      },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        scope: 'orders:read',
        ...parameters,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** The visitor's token at the partner API: the first hop, admitted by the rule for visitors. */
  const visitorToken = async () => {
    const { status, body } = await redeemAtForeign(await freshGrant());
    assert.equal(status, 200, JSON.stringify(body));
    return body.access_token as string;
  };
  const txnTokenFor = (subjectToken: string, resource: string) =>
    onward('partner-api', {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
      audience: PARTNER_TRUST_DOMAIN,
      resource,
    });

  it('refuses to exchange a visitor’s token onward under a rule that does not admit visitors', async () => {
    const subject_token = await visitorToken();
    const { status, body } = await onward('partner-api', {
      subject_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: OPEN_API,
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    const event = foreignAudit.events.at(-1)!;
    assert.equal(event.reason, 'visitor_not_admitted');
    assert.equal(event.initiator.sub, `${home.broker.issuer}|user-alice`);
  });

  it('exchanges a visitor’s token onward under a rule that names identity_chaining', async () => {
    const subject_token = await visitorToken();
    const { status, body } = await onward('partner-api', {
      subject_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      audience: PARTNER_ADMIN,
    });
    assert.equal(status, 200, JSON.stringify(body));
    const claims = decodeJwt(body.access_token as string);
    assert.equal(claims.sub, `${home.broker.issuer}|user-alice`);
    assert.equal(claims.aud, PARTNER_ADMIN);
  });

  it('refuses a Txn-Token for a visitor under a rule that does not admit visitors', async () => {
    const { status, body } = await txnTokenFor(await visitorToken(), OPEN_API);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'visitor_not_admitted');
  });

  it('refuses a replacement Txn-Token for a visitor under a rule that does not admit visitors', async () => {
    // Issued under the rule for visitors, then replaced by a service whose rule is for its own people.
    const issued = await txnTokenFor(await visitorToken(), PARTNER_ADMIN);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const { status, body } = await onward('partner-admin', {
      subject_token: issued.body.access_token as string,
      subject_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
      audience: PARTNER_TRUST_DOMAIN,
    });
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_target');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'visitor_not_admitted');
  });

  it('refuses to let a home grant’s baton_root place the visiting chain under a local root', async () => {
    // A root of the foreign domain's own chains (an identity provider it trusts, a grant of it).
    const victim = 'https://idp.partner.example#victim-grant-jti';
    const grant = await homeGrant({ claims: { baton_root: victim } });
    const { status, body } = await redeemAtForeign(grant);
    assert.equal(status, 200, JSON.stringify(body));
    const issued = decodeJwt(body.access_token as string).jti as string;
    // Revoking the visiting chain is revoking the grant's root in the home domain's namespace …
    const visiting = await foreign.revoke(
      { root: `${home.broker.issuer}#${decodeJwt(grant).jti as string}` },
      { actor: 'ops', reason: 'test' },
    );
    assert.ok(visiting.revocations.some((revocation) => revocation.value === issued));
    // … and the local root the grant named covers none of it (nor does revoking it touch the visitor).
    const local = await foreign.revoke({ root: victim }, { actor: 'ops', reason: 'test' });
    assert.equal(local.covered, 0);
  });

  it('refuses to let a home grant file its event into a local trace', async () => {
    const local = randomUUID().replaceAll('-', '');
    const grant = await homeGrant({ claims: { baton_trace: `00-${local}-${'b2'.repeat(8)}-01` } });
    const { status, body } = await redeemAtForeign(grant);
    assert.equal(status, 200, JSON.stringify(body));
    const event = foreignAudit.events.at(-1)!;
    assert.notEqual(event.trace_id, local);
    assert.equal(event.parent_span_id, undefined);
    assert.deepEqual(event.linked_trace, { trace_id: local, span_id: 'b2'.repeat(8) });
  });

  it('a revocation of the grant at the home broker ends what the foreign broker issued from it', async () => {
    const fresh = await freshGrant();
    const { status, body } = await redeemAtForeign(fresh);
    assert.equal(status, 200, JSON.stringify(body));
    const issued = decodeJwt(body.access_token as string).jti as string;
    // What a Shared Signals jti event from the home broker about its grant revokes here (the root
    // `<home>#<jti>`, as for any issuer's token): it covers the token issued from the grant.
    const { covered, revocations } = await foreign.revoke(
      { root: `${home.broker.issuer}#${decodeJwt(fresh).jti as string}` },
      { actor: `ssf:${home.broker.issuer}`, reason: 'token-revoked' },
    );
    assert.equal(covered, 1);
    assert.ok(revocations.some((revocation) => revocation.value === issued));
  });

  /** A Security Event Token as the home broker's transmitter signs it, pushed to the foreign broker. */
  const pushFromHome = async (event: Parameters<typeof mintSecurityEventToken>[0]['events'][number]) => {
    const set = await mintSecurityEventToken({
      issuer: home.broker.issuer,
      audience: FOREIGN,
      events: [event],
      key: {
        key: (await importJWK(homeKey, 'ES256')) as CryptoKey,
        kid: homeKey.kid as string,
        alg: 'ES256',
      },
    });
    const response = await fetch(new URL(IDENTITY_PROVIDER_SIGNALS_PATH, foreign.url), {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json' },
      body: set,
    });
    return response.status;
  };

  it('a home broker’s Shared Signals revocation of the grant ends what the foreign broker issued from it', async () => {
    const fresh = await freshGrant();
    const { status, body } = await redeemAtForeign(fresh);
    assert.equal(status, 200, JSON.stringify(body));
    const issued = decodeJwt(body.access_token as string).jti as string;
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await foreign.registry.isActive(issued, now), true);
    const { jti, exp } = decodeJwt(fresh) as { jti: string; exp: number };
    const pushed = await pushFromHome({
      type: EVENT_TYPES.tokensRevoked,
      subject: { format: 'opaque', id: jti },
      payload: { event_timestamp: now, tokens: [{ jti, exp }] },
    });
    assert.equal(pushed, 202);
    assert.equal(await foreign.registry.isActive(issued, now), false);
  });

  it('refuses to let a home broker’s Shared Signals revoke a local person: its subjects are its visitors', async () => {
    const now = Math.floor(Date.now() / 1000);
    const pushed = await pushFromHome({
      type: EVENT_TYPES.sessionRevoked,
      subject: { format: 'iss_sub', iss: home.broker.issuer, sub: 'local-person' },
      payload: { event_timestamp: now },
    });
    assert.equal(pushed, 202);
    const subjects = (await foreign.registry.listRevocations())
      .filter((revocation) => revocation.kind === 'subject')
      .map((revocation) => revocation.value);
    assert.ok(subjects.includes(`${home.broker.issuer}|local-person`));
    assert.ok(!subjects.includes('local-person'));
  });

  it('a revocation of the root grant at the foreign broker ends every grant of that chain', async () => {
    const fresh = await freshGrant();
    // The home chain's root, as the foreign domain names it: qualified by the home issuer.
    const root = `${home.broker.issuer}#${decodeJwt(fresh).baton_root as string}`;
    await foreign.revoke({ root }, { actor: 'ops', reason: 'test' });
    const { body } = await redeemAtForeign(fresh);
    assert.equal(body.error, 'invalid_grant');
    assert.equal(foreignAudit.events.at(-1)!.reason, 'token_revoked');
  });
});

describe('a home domain’s shared tenants, and the jwt-bearer grant’s rate limits', () => {
  const HOME = 'https://broker.home.example';
  let foreign: Broker;
  let homeKey: JWK;
  const audit = new MemoryAuditSink();

  const grantFor = async (sub: string, tenant = 'acme') => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: 'orders-mcp',
      scope: 'orders:read',
      tenant,
      act: { sub: 'orders-mcp', act: { sub: 'agent' } },
    })
      .setProtectedHeader({ alg: 'ES256', kid: homeKey.kid as string, typ: AUTHORIZATION_GRANT_TYP })
      .setIssuer(HOME)
      .setSubject(sub)
      .setAudience(FOREIGN)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(await importJWK(homeKey, 'ES256'));
  };
  const redeem = async (assertion: string) => {
    const response = await fetch(new URL('/token', foreign.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${ORDERS_AT_PARTNER.client_id}:${ORDERS_AT_PARTNER.client_secret}`)}`,
      },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion, resource: PARTNER_API }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  before(async () => {
    homeKey = (await generateBrokerKey()) as JWK;
    const { d: _private, ...publicKey } = homeKey;
    foreign = await startBroker({
      issuer: FOREIGN,
      trustedIssuers: [],
      audiences: [{ resource: PARTNER_API, scopes: ['orders:read'] }],
      policy: createCedarPolicyEngine({
        policies: FOREIGN_POLICY,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit,
      clients: [ORDERS_AT_PARTNER] as never,
      initialAccessToken: 'partner-initial-access-token',
      identityChaining: {
        draft: IDENTITY_CHAINING_DRAFT,
        homeDomains: [
          { issuer: HOME, jwks: { keys: [publicKey as Record<string, unknown>] }, tenants: ['acme'] },
        ],
      },
      rateLimits: {
        perClient: { points: 5, durationSeconds: 60 },
        perSubject: { points: 2, durationSeconds: 60 },
      },
    });
  });
  after(async () => {
    await foreign?.close();
  });

  it('keeps a home tenant the foreign domain shares, and qualifies every other', async () => {
    const shared = await redeem(await grantFor('carol', 'acme'));
    assert.equal(shared.status, 200, JSON.stringify(shared.body));
    const carol = decodeJwt(shared.body.access_token as string);
    assert.equal(carol.tenant, 'acme');
    assert.equal(carol.sub, `${HOME}|carol`, 'the subject is the home domain’s, whatever the tenant');
    const other = await redeem(await grantFor('dave', 'globex'));
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal(decodeJwt(other.body.access_token as string).tenant, `${HOME}|globex`);
  });

  it('refuses a visitor over the per-subject limit, then the client over its own, with 429 slow_down', async () => {
    assert.equal((await redeem(await grantFor('alice'))).status, 200);
    assert.equal((await redeem(await grantFor('alice'))).status, 200);
    const refused = await redeem(await grantFor('alice'));
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error, 'slow_down');
    assert.equal(audit.events.at(-1)!.reason, 'rate_limited');
    // The client's budget (5) is spent: another visitor is refused too.
    assert.equal((await redeem(await grantFor('bob'))).status, 429);
  });
});
