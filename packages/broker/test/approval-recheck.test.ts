import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceCredentials } from '@baton/broker-client';
import { exportJWK, generateKeyPair } from 'jose';
import type { AdapterFactory } from 'oidc-provider';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import type { RegistrationApproval } from '../src/registration/approvals.ts';
import { createMemoryAdapterFactory } from '../src/stores/memory-adapter.ts';
import { exchange, introspect, type ServiceClient, tokenRequest } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, POLICY, startBrokerStack } from './fixtures/stack.ts';

const LEDGER_APPROVAL = 'ledger-approval-initial-access-token';
const FULL: RegistrationApproval = {
  name: 'ledger',
  initialAccessToken: LEDGER_APPROVAL,
  resources: [BILLING_MCP],
  clientCredentials: true,
  scopes: ['billing:read'],
  traceTrusted: true,
};

const policy = () =>
  createCedarPolicyEngine({
    policies: `${POLICY}
      @id("ledger") permit (principal, action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_API}")
      when { context.mode == "service_identity" && context.scope == "billing:read" };`,
    defaults: { lifetimeSeconds: 300, maxDepth: 3 },
  });

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

const start = (adapter: AdapterFactory, approvals: RegistrationApproval[]) =>
  startBrokerStack({ adapter, policy: policy(), registrationApprovals: approvals });

async function register(stack: BrokerStack, token: string, metadata: Record<string, unknown>) {
  const response = await fetch(`${stack.broker.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ token_endpoint_auth_method: 'private_key_jwt', ...metadata }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What the ledger approval allowed at registration: service identity, billing's resource, trace trust. */
const everythingApproved = (jwks: unknown) => ({
  jwks,
  grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
  baton_resources: [BILLING_MCP],
  scope: 'billing:read',
  baton_trace_trusted: true,
});

function assertRefusedAsBeyondApproval(
  stack: BrokerStack,
  answer: { status: number; body: Record<string, unknown> },
  logged: number,
) {
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.equal(answer.body.error, 'invalid_client');
  assert.equal('access_token' in answer.body, false);
  assert.equal('active' in answer.body, false);
  assert.doesNotMatch(String(answer.body.error_description), /ledger|approval|billing/);
  const line = stack.logs.slice(logged).find((entry) => entry.msg === 'client metadata refused');
  assert.equal(line?.reason, 'client_beyond_approval');
}

describe('approvals are re-checked every time a registered client is loaded', () => {
  it('an attacker whose approval the operator narrowed after it registered gets no client_credentials token and cannot introspect the service it claimed', async () => {
    const adapter = createMemoryAdapterFactory();
    const key = await newKey();
    let stack = await start(adapter, [FULL]);
    let registered: Record<string, unknown>;
    try {
      const reg = await register(stack, LEDGER_APPROVAL, everythingApproved(key.jwks));
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      assert.equal(reg.body.baton_approval, 'ledger', 'the broker records the approval');
      registered = reg.body;
      const client = await key.as(String(registered.client_id));
      const before = await tokenRequest(stack.broker.issuer, client, {
        grant_type: 'client_credentials',
        resource: BILLING_API,
      });
      assert.equal(before.status, 200, 'approved: it works before the change');
    } finally {
      await stack.close();
    }
    // The operator narrows the approval to token exchange only; the store keeps the client.
    stack = await start(adapter, [{ name: 'ledger', initialAccessToken: LEDGER_APPROVAL }]);
    try {
      const client = await key.as(String(registered.client_id));
      let logged = stack.logs.length;
      const cc = await tokenRequest(stack.broker.issuer, client, {
        grant_type: 'client_credentials',
        resource: BILLING_API,
      });
      assertRefusedAsBeyondApproval(stack, cc, logged);
      assert.equal(
        stack.audit.events.some((event) => event.outcome === 'ok'),
        false,
        'nothing was issued',
      );

      const hop1 = await exchange(stack.broker.issuer, stack.orders, {
        subject_token: await stack.userToken(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
      });
      assert.equal(hop1.status, 200, JSON.stringify(hop1.body));
      logged = stack.logs.length;
      const stolen = await introspect(stack.broker.issuer, client, hop1.body.access_token as string);
      assertRefusedAsBeyondApproval(stack, stolen, logged);
      assert.equal(
        (await introspect(stack.broker.issuer, stack.billing, hop1.body.access_token as string)).body.active,
        true,
        'the static billing service, approved by configuration, still sees its token',
      );
    } finally {
      await stack.close();
    }
  });

  it('treats an approval the operator removed as no approval at all', async () => {
    const adapter = createMemoryAdapterFactory();
    const key = await newKey();
    let stack = await start(adapter, [FULL]);
    let clientId: string;
    try {
      const reg = await register(stack, LEDGER_APPROVAL, everythingApproved(key.jwks));
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      clientId = String(reg.body.client_id);
    } finally {
      await stack.close();
    }
    stack = await start(adapter, []);
    try {
      const logged = stack.logs.length;
      const cc = await tokenRequest(stack.broker.issuer, await key.as(clientId), {
        grant_type: 'client_credentials',
        resource: BILLING_API,
      });
      assertRefusedAsBeyondApproval(stack, cc, logged);
    } finally {
      await stack.close();
    }
  });

  it('keeps a client working whose approval still covers what it declared', async () => {
    const adapter = createMemoryAdapterFactory();
    const key = await newKey();
    let stack = await start(adapter, [FULL]);
    let clientId: string;
    try {
      const reg = await register(stack, LEDGER_APPROVAL, everythingApproved(key.jwks));
      clientId = String(reg.body.client_id);
    } finally {
      await stack.close();
    }
    stack = await start(adapter, [FULL]);
    try {
      const cc = await tokenRequest(stack.broker.issuer, await key.as(clientId), {
        grant_type: 'client_credentials',
        resource: BILLING_API,
      });
      assert.equal(cc.status, 200, JSON.stringify(cc.body));
    } finally {
      await stack.close();
    }
  });

  it('an attacker client stored before approvals were recorded, with self-declared client_credentials and resources, is approved for nothing', async () => {
    const adapter = createMemoryAdapterFactory();
    const key = await newKey();
    const legacyId = 'legacy-self-declared';
    // As an older broker stored it: no baton_approval.
    await adapter('Client').upsert(
      legacyId,
      {
        client_id: legacyId,
        client_id_issued_at: Math.floor(Date.now() / 1000),
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: key.jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        response_types: [],
        redirect_uris: [],
        baton_resources: [BILLING_MCP],
      } as never,
      undefined as never,
    );
    const stack = await start(adapter, [FULL]);
    try {
      const logged = stack.logs.length;
      const cc = await tokenRequest(stack.broker.issuer, await key.as(legacyId), {
        grant_type: 'client_credentials',
        resource: BILLING_API,
      });
      assertRefusedAsBeyondApproval(stack, cc, logged);
    } finally {
      await stack.close();
    }
  });

  it('refuses an attacker who names an approval in its own registration metadata', async () => {
    const adapter = createMemoryAdapterFactory();
    const stack = await start(adapter, [FULL]);
    try {
      // With the plain initial access token: the broker drops the name, and the rest stays refused.
      const plain = await register(stack, 'test-initial-access-token', {
        jwks: (await newKey()).jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT],
        baton_approval: 'ledger',
      });
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      assert.equal(plain.body.baton_approval, undefined, 'not recorded: it was not the approval used');
      const logged = stack.logs.length;
      const widened = await register(stack, 'test-initial-access-token', {
        jwks: (await newKey()).jwks,
        grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'],
        baton_approval: 'ledger',
      });
      assert.equal(widened.status, 400);
      assert.equal(widened.body.error, 'invalid_client_metadata');
      assert.equal(
        stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused')?.reason,
        'client_credentials_not_approved',
      );
    } finally {
      await stack.close();
    }
  });
});

describe('anonymous registration cannot name an approval', () => {
  it('refuses an attacker who registers anonymously naming an approval', async () => {
    const stack = await startBrokerStack({
      initialAccessToken: undefined,
      allowAnonymousRegistration: true,
      registrationApprovals: [],
    });
    try {
      const logged = stack.logs.length;
      const response = await fetch(`${stack.broker.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jwks: (await newKey()).jwks,
          token_endpoint_auth_method: 'private_key_jwt',
          baton_approval: 'ledger',
        }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
      assert.equal(
        stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused')?.reason,
        'approval_self_declared',
      );
    } finally {
      await stack.close();
    }
  });
});
