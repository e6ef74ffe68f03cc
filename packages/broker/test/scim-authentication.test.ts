import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { dpopKey } from '@baton/broker-client';
import { decodeJwt } from 'jose';
import { type Broker, MemoryScimStore, startBroker } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { type ServiceClient, serviceClient, tokenRequest } from './fixtures/service-client.ts';

/**
 * SCIM as an operator turns it on from the configuration file (`"scim": { "approvedClients": [...] }`):
 * callers authenticate with the broker's own client-credentials token for `<issuer>/scim/v2`, from a
 * static client; only the approved ones get in.
 */
describe('SCIM with the broker’s own authentication', () => {
  let broker: Broker;
  let hr: ServiceClient;
  let other: ServiceClient;

  before(async () => {
    hr = await serviceClient('hr-provisioning', [], { grantTypes: ['client_credentials'] });
    other = await serviceClient('other-provisioning', [], { grantTypes: ['client_credentials'] });
    broker = await startBroker({
      trustedIssuers: [],
      audiences: [{ resource: 'https://api.test', scopes: [] }],
      policy: createCedarPolicyEngine({
        policies: `@id("provisioners") permit (principal, action == Baton::Action::"exchange", resource) when { context.mode == "service_identity" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 1 },
      }),
      audit: new MemoryAuditSink(),
      clients: [hr.metadata, other.metadata],
      initialAccessToken: 'scim-authentication-test-token',
      scim: { store: new MemoryScimStore(), approvedClients: ['hr-provisioning'] },
    });
  });
  after(() => broker.close());

  const token = async (client: ServiceClient, resource = `${broker.issuer}/scim/v2`) => {
    const answer = await tokenRequest(broker.issuer, client, { grant_type: 'client_credentials', resource });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.access_token as string;
  };
  const users = (authorization?: string) =>
    fetch(`${broker.issuer}/scim/v2/Users`, { headers: authorization ? { authorization } : {} });

  it('lets an approved static client in with its token for <issuer>/scim/v2', async () => {
    assert.equal((await users(`Bearer ${await token(hr)}`)).status, 200);
  });

  it('answers 401 without a token, and for a token minted for another audience', async () => {
    assert.equal((await users()).status, 401);
    assert.equal((await users(`Bearer ${await token(hr, 'https://api.test')}`)).status, 401);
  });

  it('answers 403 to a static client the operator did not approve', async () => {
    assert.equal((await users(`Bearer ${await token(other)}`)).status, 403);
  });

  it('refuses a DPoP-bound service token at the SCIM endpoint (no proof is checked there)', async () => {
    const dpop = await dpopKey();
    const answer = await tokenRequest(
      broker.issuer,
      hr,
      { grant_type: 'client_credentials', resource: `${broker.issuer}/scim/v2` },
      { headers: { dpop: await dpop.proof({ method: 'POST', url: `${broker.issuer}/token` }) } },
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const bound = answer.body.access_token as string;
    assert.deepEqual(decodeJwt(bound).cnf, { jkt: dpop.thumbprint });
    // A stolen bound token presented as a bearer token, and with its own scheme: both refused.
    assert.equal((await users(`Bearer ${bound}`)).status, 401);
    assert.equal((await users(`DPoP ${bound}`)).status, 401);
  });

  it('refuses the token of a client revoked since (a compromised provisioner)', async () => {
    const held = await token(hr);
    await broker.revoke({ client: 'hr-provisioning' }, { actor: 'ops' });
    try {
      assert.equal((await users(`Bearer ${held}`)).status, 401);
    } finally {
      await broker.lift({ client: 'hr-provisioning' }, { actor: 'ops' });
    }
  });
});
