import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { BearerError } from '@baton/resource-server';
import { type DownstreamVerifier, downstreamVerifier } from '../src/index.ts';

// The broker's Transaction Tokens (draft-ietf-oauth-transaction-tokens-10), original and replacement,
// verified where they are used: a downstream API called with service identity and a Txn-Token.

const MCP = 'http://127.0.0.1:4311/mcp';
const API = 'http://127.0.0.1:4312/api';
const OTHER_API = 'http://127.0.0.1:4313/api';
const TRUST_DOMAIN = 'baton.test';

describe('broker Txn-Tokens at the downstream verifier', () => {
  let idp: DemoIdp;
  let broker: Broker;
  let orders: ServiceCredentials;
  let billing: ServiceCredentials;
  let verifier: DownstreamVerifier;

  before(async () => {
    idp = await startDemoIdp({ resources: [{ resource: MCP, scopes: ['orders:read', 'orders:write'] }] });
    orders = await serviceCredentials('orders-mcp');
    billing = await serviceCredentials('billing-mcp');
    const client = (credentials: ServiceCredentials, resources: string[]) =>
      serviceClientMetadata({
        clientId: credentials.clientId,
        jwks: credentials.jwks,
        resources,
        grantTypes: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        scopes: ['orders:read'],
      });
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        { resource: API, scopes: ['orders:read', 'orders:write'] },
        { resource: OTHER_API, scopes: ['orders:read'] },
      ],
      policy: createCedarPolicyEngine({
        policies: `@id("txn-tokens-for-the-api")
permit (principal, action == Baton::Action::"exchange", resource == Baton::Audience::"${API}")
when { context.mode == "txn_token" };

@id("services-as-themselves")
permit (principal, action == Baton::Action::"exchange", resource)
when { context.mode == "service_identity" && context.scope == "orders:read" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: new MemoryAuditSink(),
      // billing-mcp also serves the API (a service the Txn-Token is for): so it may replace the token;
      // a workload that neither asked for a Txn-Token nor serves one of its services may not.
      clients: [client(orders, [MCP]), client(billing, ['http://127.0.0.1:4314/billing', API])],
      initialAccessToken: 'txn-verifier-test-initial-access-token',
      transactionTokens: { trustDomain: TRUST_DOMAIN },
    });
    const caller = (clientId: string) => ({
      clientId,
      envelopeIssuer: broker.issuer,
      envelopeJwksUri: `${broker.issuer}/jwks`,
    });
    verifier = downstreamVerifier({
      audience: API,
      broker: { issuer: broker.issuer },
      serviceIdentity: { trustDomain: TRUST_DOMAIN, callers: [caller('orders-mcp'), caller('billing-mcp')] },
    });
  });
  after(async () => {
    await broker.close();
    await idp.close();
  });

  const serviceToken = async (credentials: ServiceCredentials) =>
    (await clientCredentialsToken(broker.issuer, credentials, { resource: API, scope: ['orders:read'] }))
      .access_token;

  async function txnToken() {
    const { access_token: userToken } = await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: MCP,
      scope: 'orders:read orders:write',
    });
    const answer = await exchangeToken(broker.issuer, orders, {
      subjectToken: userToken,
      resource: API,
      scope: ['orders:read', 'orders:write'],
      requestedTokenType: TXN_TOKEN_TYPE,
      transaction: {
        trustDomain: TRUST_DOMAIN,
        requestContext: { req_ip: '203.0.113.7', authn: 'pwd' },
        requestDetails: { order: 'o-17' },
      },
    });
    assert.equal(answer.issued_token_type, TXN_TOKEN_TYPE);
    return answer.access_token;
  }

  it('accepts the Txn-Token the broker issued, naming the person, the agent and the requester', async () => {
    const identity = await verifier.verify(
      new Headers({ authorization: `Bearer ${await serviceToken(orders)}`, 'txn-token': await txnToken() }),
      ['orders:read'],
    );
    assert.equal(identity.user, 'user-alice');
    assert.equal(identity.mode, 'service_identity');
    assert.deepEqual(identity.scopes, ['orders:read', 'orders:write']);
    assert.deepEqual(identity.chain, ['orders-mcp', identity.agent]);
  });

  it('accepts a narrowed replacement presented by the next service, with the chain of requesters', async () => {
    const replacement = await exchangeToken(broker.issuer, billing, {
      subjectToken: await txnToken(),
      subjectTokenType: TXN_TOKEN_TYPE,
      resource: API,
      scope: ['orders:read'],
      requestedTokenType: TXN_TOKEN_TYPE,
      transaction: { trustDomain: TRUST_DOMAIN },
    });
    const identity = await verifier.verify(
      new Headers({
        authorization: `Bearer ${await serviceToken(billing)}`,
        'txn-token': replacement.access_token,
      }),
      ['orders:read'],
    );
    assert.equal(identity.user, 'user-alice');
    assert.deepEqual(identity.scopes, ['orders:read'], 'the narrowed scope is what the API sees');
    assert.deepEqual(identity.chain, ['billing-mcp', 'orders-mcp', identity.agent]);
    // The narrowing holds at the API: the scope the replacement gave up is missing there.
    await assert.rejects(
      verifier.verify(
        new Headers({
          authorization: `Bearer ${await serviceToken(billing)}`,
          'txn-token': replacement.access_token,
        }),
        ['orders:write'],
      ),
      (error: unknown) => error instanceof BearerError && error.error === 'insufficient_scope',
    );
  });

  it('refuses a Txn-Token at an API it does not name (tctx.allowed)', async () => {
    const elsewhere = downstreamVerifier({
      audience: OTHER_API,
      broker: { issuer: broker.issuer },
      serviceIdentity: {
        trustDomain: TRUST_DOMAIN,
        callers: [
          { clientId: 'orders-mcp', envelopeIssuer: broker.issuer, envelopeJwksUri: `${broker.issuer}/jwks` },
        ],
      },
    });
    const token = (await clientCredentialsToken(broker.issuer, orders, { resource: OTHER_API })).access_token;
    await assert.rejects(
      elsewhere.verify(new Headers({ authorization: `Bearer ${token}`, 'txn-token': await txnToken() })),
      (error: unknown) => error instanceof BearerError && error.reason === 'audience_invalid',
    );
  });
});
