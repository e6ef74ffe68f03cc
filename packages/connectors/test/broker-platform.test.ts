import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { type Broker, startBroker } from '@baton/broker';
import { createCedarPolicyEngine } from '@baton/broker/policy';
import {
  exchangeToken,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TOKEN_EXCHANGE_GRANT,
  TokenRequestError,
} from '@baton/broker-client';
import { type DemoIdp, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { RevocationList } from '@baton/shared-signals';
import { decodeJwt } from 'jose';
import { jwtBearerConnector } from '../src/index.ts';
import { startJwtBearerTestPlatform } from './fixtures/jwt-bearer-test-platform.ts';
import { generateTestKey } from './fixtures/keys.ts';
import type { TestPlatform } from './fixtures/test-platform.ts';

const MCP = 'http://127.0.0.1:4401/mcp';
const CRM = 'https://crm.platform.example/services/data';
const CRM_DOWN = 'https://down.platform.example/services/data';

describe('the broker obtains a platform token through a connector (RFC 7523 for the mapped identity)', () => {
  let idp: DemoIdp;
  let platform: TestPlatform;
  let broker: Broker;
  let service: ServiceCredentials;
  const audit = new MemoryAuditSink();
  /** What the CRM connector's cache follows. */
  const revocations = new RevocationList();
  let crm: ReturnType<typeof jwtBearerConnector>;

  before(async () => {
    idp = await startDemoIdp({ resources: [{ resource: MCP, scopes: ['billing:read', 'orders:read'] }] });
    const key = await generateTestKey();
    platform = await startJwtBearerTestPlatform({
      clients: [{ clientId: 'baton-broker', jwks: { keys: [key.publicJwk] } }],
      users: { 'alice@crm.example': '005-alice' },
      scopes: ['billing:read', 'orders:read'],
    });
    service = await serviceCredentials('crm-mcp');
    crm = jwtBearerConnector({
      tokenEndpoint: platform.tokenEndpoint,
      clientId: 'baton-broker',
      privateKey: key.privateJwk,
      identityMapping: { 'user-alice': 'alice@crm.example' },
      revocations,
    });
    broker = await startBroker({
      trustedIssuers: [{ issuer: idp.issuer }],
      audiences: [
        {
          resource: CRM,
          scopes: ['billing:read', 'orders:read'],
          platform: crm,
        },
        {
          resource: CRM_DOWN,
          scopes: ['billing:read'],
          // Nothing listens on port 1: the connector fails with ERR_CONNECTOR_UNAVAILABLE.
          platform: jwtBearerConnector({
            tokenEndpoint: 'http://127.0.0.1:1/token',
            clientId: 'baton-broker',
            privateKey: key.privateJwk,
            identityMapping: { 'user-alice': 'alice@crm.example' },
          }),
        },
      ],
      policy: createCedarPolicyEngine({
        policies: `@id("crm-mcp-to-crm")
permit (principal == Baton::Client::"crm-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${CRM}")
when { context.mode == "on_behalf_of" };
@id("crm-mcp-to-crm-down")
permit (principal == Baton::Client::"crm-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${CRM_DOWN}")
when { context.mode == "on_behalf_of" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      audit,
      clients: [
        serviceClientMetadata({
          clientId: 'crm-mcp',
          jwks: service.jwks,
          resources: [MCP],
          grantTypes: [TOKEN_EXCHANGE_GRANT],
        }),
      ],
      initialAccessToken: 'platform-test-initial-access-token',
    });
  });
  after(async () => {
    await broker.close();
    await platform.close();
    await idp.close();
  });

  const userToken = (username: string, scope = 'billing:read') =>
    obtainUserAccessToken(idp, { username, password: `${username}-demo-pw`, resource: MCP, scope }).then(
      (response) => response.access_token,
    );

  it('returns the platform token for the person it maps to, once policy allows the exchange', async () => {
    const response = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken('alice'),
      resource: CRM,
      scope: ['billing:read'],
    });
    assert.equal(response.token_type, 'Bearer');
    assert.equal(
      decodeJwt(response.access_token).sub,
      '005-alice',
      'the platform issued it for the mapped account',
    );
    assert.ok(response.expires_in > 0);
    const again = await exchangeToken(broker.issuer, service, {
      subjectToken: await userToken('alice'),
      resource: CRM,
      scope: ['billing:read'],
    });
    assert.equal(again.access_token, response.access_token, 'cached per person');
    assert.equal(audit.events.filter((event) => event.outcome === 'ok').length, 2);
  });

  it('records both identities: the person as initiator and the platform user they were mapped to, never a token', async () => {
    const before = audit.events.length;
    const subjectToken = await userToken('alice');
    const response = await exchangeToken(broker.issuer, service, {
      subjectToken,
      resource: CRM,
      scope: ['billing:read'],
    });
    const event = audit.events.slice(before).find((candidate) => candidate.outcome === 'ok')!;
    assert.equal(event.action, 'token.exchange');
    assert.equal(event.initiator.sub, 'user-alice');
    assert.equal(event.platform_subject, 'alice@crm.example', 'the platform identity the connector mapped');
    const recorded = JSON.stringify(event);
    assert.ok(
      !recorded.includes(response.access_token) && !recorded.includes(subjectToken),
      'no token in the event',
    );
    // An exchange that reaches no platform records no platform identity.
    assert.ok(
      audit.events
        .filter((candidate) => candidate.outcome !== 'ok')
        .every((e) => e.platform_subject === undefined),
    );
  });

  it('drops the cached platform token when the subject token it came from (jti) or the asking client is revoked', async () => {
    const exchange = async (subjectToken: string) =>
      (await exchangeToken(broker.issuer, service, { subjectToken, resource: CRM, scope: ['billing:read'] }))
        .access_token;
    // Whatever an earlier test cached for alice goes first (then the revocation is lifted: a lift is
    // ordered after the revocation it meets, and keeps refusing only what was issued before it).
    const now = Math.floor(Date.now() / 1000);
    revocations.add([{ kind: 'subject', value: 'user-alice', at: now - 3 }]);
    await crm.revocations?.settled();
    revocations.lift([{ kind: 'subject', value: 'user-alice', at: now - 2 }]);
    const first = await userToken('alice');
    const cached = await exchange(first);
    assert.equal(await exchange(await userToken('alice')), cached, 'cached per person');
    // The broker passed the subject token's provenance: its jti finds the cached platform token.
    revocations.add([{ kind: 'jti', value: decodeJwt(first).jti as string }]);
    await crm.revocations?.settled();
    const renewed = await exchange(await userToken('alice'));
    assert.notEqual(renewed, cached, 'obtained from the platform again');
    revocations.add([{ kind: 'client', value: 'crm-mcp', at: now - 3 }]);
    await crm.revocations?.settled();
    assert.notEqual(await exchange(await userToken('alice')), renewed, 'the asking client is in its chain');
    revocations.lift([{ kind: 'client', value: 'crm-mcp', at: now - 2 }]);
  });

  it('refuses a person with no mapped platform identity, naming the audience, audited', async () => {
    await assert.rejects(
      exchangeToken(broker.issuer, service, {
        subjectToken: await userToken('bob', 'orders:read'),
        resource: CRM,
        scope: ['orders:read'],
      }),
      (error: unknown) => error instanceof TokenRequestError && error.error === 'invalid_target',
    );
    assert.equal(audit.events.at(-1)?.reason, 'platform_refused');
  });

  it('answers 503 when the platform cannot be reached (a connector ERR_CONNECTOR_UNAVAILABLE, read by instanceof and code)', async () => {
    await assert.rejects(
      exchangeToken(broker.issuer, service, {
        subjectToken: await userToken('alice'),
        resource: CRM_DOWN,
        scope: ['billing:read'],
      }),
      (error: unknown) =>
        error instanceof TokenRequestError &&
        error.status === 503 &&
        error.error === 'invalid_request' &&
        error.message === 'invalid_request: the platform could not be reached; try again later',
    );
    assert.equal(audit.events.at(-1)?.reason, 'platform_unavailable');
  });
});
