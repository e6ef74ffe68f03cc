import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serviceCredentials } from '@baton/broker-client';
import { exportJWK, generateKeyPair } from 'jose';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { exchange, introspect, type ServiceClient, tokenRequest } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, POLICY, startBrokerStack } from './fixtures/stack.ts';

const LEDGER = 'http://127.0.0.1:4105/ledger';
const PLAIN_TOKEN = 'test-initial-access-token';
const LEDGER_APPROVAL = 'ledger-approval-initial-access-token';

/** A fresh private_key_jwt key pair: the public JWKS to register, and credentials once registered. */
async function newKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'k1' };
  const { d: _d, ...publicJwk } = privateJwk;
  return {
    jwks: { keys: [{ ...publicJwk, use: 'sig' }] },
    async as(clientId: string): Promise<ServiceClient> {
      const credentials = await serviceCredentials(clientId, privateJwk);
      return { clientId, metadata: {} as never, assertion: (aud) => credentials.assertion(aud) };
    },
  };
}

describe('self-registration may declare only what the operator approved', () => {
  let stack: BrokerStack;

  before(async () => {
    stack = await startBrokerStack({
      registrationApprovals: [
        {
          name: 'ledger-services',
          initialAccessToken: LEDGER_APPROVAL,
          resources: [LEDGER],
          clientCredentials: true,
          scopes: ['billing:read'],
        },
      ],
      policy: createCedarPolicyEngine({
        policies: `${POLICY}
          // Approved ledger services (their client ids are chosen at registration) may read the billing API as themselves.
          @id("ledger-services-identity")
          permit (principal, action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_API}")
          when { context.mode == "service_identity" && context.scope == "billing:read" };
        `,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
    });
  });
  after(() => stack.close());

  const register = async (metadata: Record<string, unknown>, token = PLAIN_TOKEN) => {
    const response = await fetch(`${stack.broker.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: [TOKEN_EXCHANGE_GRANT],
        ...metadata,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** Asserts an RFC 7591 refusal and the reason the broker logged for it. */
  async function refusedRegistration(metadata: Record<string, unknown>, reason: string, token = PLAIN_TOKEN) {
    const logged = stack.logs.length;
    const { status, body } = await register({ jwks: (await newKey()).jwks, ...metadata }, token);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_client_metadata');
    assert.equal('client_id' in body, false, 'no client was registered');
    const line = stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused');
    assert.equal(line?.reason, reason);
    return body;
  }

  it('refuses an attacker who self-registers asking for client_credentials', async () => {
    const body = await refusedRegistration(
      { grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'] },
      'client_credentials_not_approved',
    );
    assert.equal(body.error_description, "the client_credentials grant needs the operator's approval");
  });

  it("refuses an attacker who self-registers claiming the billing MCP server's resource", async () => {
    const body = await refusedRegistration({ baton_resources: [BILLING_MCP] }, 'resources_not_approved');
    assert.ok(!JSON.stringify(body).includes(BILLING_MCP), 'the refusal does not echo the resource');
  });

  it('refuses an attacker who self-registers with scopes, or as a trusted trace hop', async () => {
    await refusedRegistration({ scope: 'billing:read' }, 'scope_not_approved');
    await refusedRegistration({ baton_trace_trusted: true }, 'trace_trust_not_approved');
  });

  it('lets an approval token register what it approves, and nothing beyond it', async () => {
    const key = await newKey();
    const approved = await register(
      {
        jwks: key.jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        baton_resources: [LEDGER],
        scope: 'billing:read',
      },
      LEDGER_APPROVAL,
    );
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    const ledger = await key.as(approved.body.client_id as string);
    const token = await tokenRequest(stack.broker.issuer, ledger, {
      grant_type: 'client_credentials',
      resource: BILLING_API,
    });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(token.body.scope, 'billing:read');

    await refusedRegistration(
      { baton_resources: [LEDGER, BILLING_MCP] },
      'resources_not_approved',
      LEDGER_APPROVAL,
    );
    await refusedRegistration({ scope: 'billing:read orders:read' }, 'scope_not_approved', LEDGER_APPROVAL);
    await refusedRegistration({ baton_trace_trusted: true }, 'trace_trust_not_approved', LEDGER_APPROVAL);

    // RFC 7592 update with the registration access token: the approval still bounds it.
    const update = await fetch(String(approved.body.registration_client_uri), {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${approved.body.registration_access_token}`,
      },
      body: JSON.stringify({
        client_id: approved.body.client_id,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: key.jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        baton_resources: [LEDGER, BILLING_MCP],
      }),
    });
    assert.equal(update.status, 400);
    assert.equal(((await update.json()) as { error: string }).error, 'invalid_client_metadata');
  });

  it('refuses an update that adds what the plain registration was not approved for', async () => {
    const key = await newKey();
    const plain = await register({ jwks: key.jwks });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    const update = (extra: Record<string, unknown>) =>
      fetch(String(plain.body.registration_client_uri), {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${plain.body.registration_access_token}`,
        },
        body: JSON.stringify({
          client_id: plain.body.client_id,
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: key.jwks,
          grant_types: [TOKEN_EXCHANGE_GRANT],
          ...extra,
        }),
      });
    const logged = stack.logs.length;
    const widened = await update({ baton_resources: [BILLING_MCP] });
    assert.equal(widened.status, 400);
    assert.equal(((await widened.json()) as { error: string }).error, 'invalid_client_metadata');
    assert.equal(
      stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused')?.reason,
      'resources_not_approved',
    );
    const renamed = await update({ client_name: 'renamed' });
    assert.equal(renamed.status, 200, 'an update within the approval is accepted');
  });

  it("an attacker client introspecting another service's token gets { active: false } and nothing else", async () => {
    const key = await newKey();
    const attacker = await register({ jwks: key.jwks, client_name: 'totally the billing service' });
    assert.equal(attacker.status, 201, JSON.stringify(attacker.body));
    const hop1 = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(hop1.status, 200, JSON.stringify(hop1.body));
    const token = hop1.body.access_token as string;
    const stolen = await introspect(
      stack.broker.issuer,
      await key.as(attacker.body.client_id as string),
      token,
    );
    assert.equal(stolen.status, 200);
    assert.deepEqual(stolen.body, { active: false });
    // The service the token was issued for (approved for its audience by the operator) still sees it.
    assert.equal((await introspect(stack.broker.issuer, stack.billing, token)).body.active, true);
  });
});

describe('anonymous registration (demo only) is approved for nothing', () => {
  let stack: BrokerStack;
  before(async () => {
    stack = await startBrokerStack({ initialAccessToken: undefined, allowAnonymousRegistration: true });
  });
  after(() => stack.close());

  it('refuses client_credentials and baton_resources without any token', async () => {
    for (const metadata of [
      { grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'] },
      { baton_resources: [BILLING_MCP] },
    ]) {
      const response = await fetch(`${stack.broker.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jwks: (await newKey()).jwks,
          token_endpoint_auth_method: 'private_key_jwt',
          ...metadata,
        }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
    }
  });
});
