import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import {
  ID_JAG_DRAFT as BROKER_ID_JAG_DRAFT,
  type Broker,
  JWT_BEARER_GRANT,
  startBroker,
} from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  type DemoIdp,
  generateSigningJwk,
  ID_JAG_DRAFT,
  obtainUserAccessToken,
  startDemoIdp,
} from '@baton/demo-idp';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import { jwtAccessTokenVerifier } from '@baton/resource-server';
import { serveNodeRequests } from '@baton/resource-server/node';
import {
  Client,
  CrossAppAccessProvider,
  discoverAndRequestJwtAuthGrant,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { IdentityBoundary } from '../src/index.ts';
import { buildOrdersServer, type Observation } from './fixtures/orders.ts';

const SCOPES = ['orders:read', 'orders:write'];
const REDIRECT_URI = 'http://127.0.0.1/callback';
/** The agent is a confidential client at the IdP too (ID-JAG draft §7.1). */
const AGENT_SECRET_AT_IDP = 'agent-secret-at-the-idp-0123456789';
const IDP_API = 'http://127.0.0.1:4501/profile';
const AGENT_SECRET = 'agent-secret-at-the-broker-0123456789';

/**
 * Enterprise-managed authorization end to end, with the official SDK client's cross-app access: the
 * person signs in at the enterprise IdP (ID token), the client exchanges it there for an ID-JAG, the
 * broker (the MCP server's authorization server) redeems it under its policy, and the MCP server behind
 * Baton's boundary runs the tool with an envelope naming the person and the agent.
 */
describe('cross-app access (ID-JAG) with the MCP SDK v2 client, through the broker, to a Baton-protected MCP server', () => {
  let http: Server;
  let resource: string;
  let idp: DemoIdp;
  let broker: Broker;
  let idToken: string;
  let mcp: ReturnType<typeof createMcpHandler>;
  const observed: Observation[] = [];
  const brokerAudit = new MemoryAuditSink();
  const boundaryAudit = new MemoryAuditSink();

  before(async () => {
    http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    resource = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
    idp = await startDemoIdp({
      signingJwk: await generateSigningJwk(),
      resources: [{ resource: IDP_API, scopes: ['profile:read'] }],
      clients: [
        {
          client_id: 'agent',
          client_secret: AGENT_SECRET_AT_IDP,
          token_endpoint_auth_method: 'client_secret_post',
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'],
          response_types: ['code'],
        },
      ],
      idJag: {
        draft: ID_JAG_DRAFT,
        authorizationServers: () => [
          { issuer: broker.issuer, resources: [{ resource, scopes: SCOPES }], clients: ['agent'] },
        ],
      },
    });
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [{ resource, scopes: SCOPES }],
      policy: createCedarPolicyEngine({
        policies: `
@id("agent-reads-orders")
permit (principal == Baton::Client::"agent", action == Baton::Action::"exchange", resource == Baton::Audience::"${resource}")
when { context.mode == "on_behalf_of" && context.scope == "orders:read" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit: brokerAudit,
      clients: [
        {
          client_id: 'agent',
          client_secret: AGENT_SECRET,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: [JWT_BEARER_GRANT],
          response_types: [],
          redirect_uris: [],
        },
      ],
      initialAccessToken: 'test-initial-access-token',
      identityAssertionGrants: { draft: BROKER_ID_JAG_DRAFT, issuers: [idp.issuer] },
    });
    const boundary = new IdentityBoundary({
      resource,
      authorizationServers: [broker.issuer],
      tokenVerifier: jwtAccessTokenVerifier({ issuer: broker.issuer, audience: resource }),
      envelopes: new EnvelopeIssuer({
        issuer: resource,
        trustDomain: 'baton.test',
        keys: EnvelopeKeyRing.generate({ retentionSeconds: 900 }),
      }),
      audit: boundaryAudit,
      logger: createLogger({ name: 'cross-app-access-test', level: 'silent' }),
      scopesSupported: SCOPES,
      delegation: { mode: 'service_identity', allowed: [] },
    });
    mcp = createMcpHandler(() => buildOrdersServer(boundary, observed));
    serveNodeRequests(http, boundary.protect(mcp), {});
    idToken = (
      await obtainUserAccessToken(idp, {
        username: 'alice',
        password: 'alice-demo-pw',
        resource: IDP_API,
        scope: 'openid profile:read',
        clientId: 'agent',
        clientSecret: AGENT_SECRET_AT_IDP,
        redirectUri: REDIRECT_URI,
      })
    ).id_token!;
  });
  after(async () => {
    await mcp?.close();
    http?.closeAllConnections();
    await new Promise<void>((resolve) => http?.close(() => resolve()));
    await broker?.close();
    await idp?.close();
  });

  it('the SDK’s CrossAppAccessProvider gets an ID-JAG from the IdP, redeems it at the broker, and calls the tool', async () => {
    const assertions: string[] = [];
    const provider = new CrossAppAccessProvider({
      assertion: async (context) => {
        const { jwtAuthGrant } = await discoverAndRequestJwtAuthGrant({
          idpUrl: idp.issuer,
          audience: context.authorizationServerUrl,
          resource: context.resourceUrl,
          idToken,
          clientId: 'agent',
          clientSecret: AGENT_SECRET_AT_IDP,
          ...(context.scope ? { scope: context.scope } : {}),
          fetchFn: context.fetchFn,
        });
        assertions.push(jwtAuthGrant);
        return jwtAuthGrant;
      },
      clientId: 'agent',
      clientSecret: AGENT_SECRET,
      expectedIssuer: broker.issuer,
    });
    const client = new Client({ name: 'cross-app-access-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }));
    try {
      const result = await client.callTool({ name: 'list_orders', arguments: {} });
      assert.notEqual(result.isError, true, JSON.stringify(result));
    } finally {
      await client.close();
    }
    assert.equal(assertions.length, 1, 'one ID-JAG, redeemed once');

    const call = observed.find((observation) => observation.tool === 'list_orders')!;
    assert.ok(call, 'the tool ran');
    const { identity } = call;
    assert.equal(identity.actor.type, 'user');
    assert.equal(identity.actor.sub, 'user-alice');
    assert.equal(identity.actor.tenant, 'acme');
    assert.equal(identity.agent.client_id, 'agent');
    assert.deepEqual([...identity.authorization.scopes], ['orders:read'], 'what the broker’s policy granted');

    const redeemed = brokerAudit.events.find((event) => event.outcome === 'ok')!;
    assert.equal(redeemed.initiator.sub, 'user-alice');
    assert.equal(redeemed.agent.client_id, 'agent');
    assert.equal(redeemed.target.name, resource);
    const invoked = boundaryAudit.events.find((event) => event.action === 'tool.invoke')!;
    assert.equal(invoked.outcome, 'ok');
    assert.equal(invoked.initiator.sub, 'user-alice');
    assert.equal(invoked.envelope_id, identity.id, 'the call ran under the envelope');
  });
});
