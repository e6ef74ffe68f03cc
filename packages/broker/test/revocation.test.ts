import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ACCESS_TOKEN_TYPE } from '../src/index.ts';
import { MemoryTokenRegistry } from '../src/registry/memory-registry.ts';
import { exchange, type ServiceClient } from './fixtures/service-client.ts';
import { BILLING_API, BILLING_MCP, type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

/** RFC 7662 introspection as `client`, authenticated with private_key_jwt. */
async function introspect(stack: BrokerStack, client: ServiceClient | undefined, token: string) {
  const response = await fetch(`${stack.broker.issuer}/token/introspection`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token,
      ...(client
        ? {
            client_id: client.clientId,
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: await client.assertion(stack.broker.issuer),
          }
        : {}),
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function revoke(stack: BrokerStack, client: ServiceClient, token: string) {
  const response = await fetch(`${stack.broker.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token,
      client_id: client.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await client.assertion(stack.broker.issuer),
    }),
  });
  return response.status;
}

describe('introspection (RFC 7662) and cascading revocation (RFC 7009)', () => {
  let stack: BrokerStack;
  let hop1: string;
  let hop2: string;

  before(async () => {
    stack = await startBrokerStack();
  });
  after(() => stack.close());

  beforeEach(async () => {
    const user = await stack.userToken();
    const first = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: user,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    hop1 = first.body.access_token as string;
    const second = await exchange(stack.broker.issuer, stack.billing, {
      subject_token: hop1,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    hop2 = second.body.access_token as string;
  });

  it('answers active with the chain for the client the token was issued to', async () => {
    const { status, body } = await introspect(stack, stack.billing, hop2);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.active, true);
    assert.equal(body.sub, 'user-alice');
    assert.equal(body.aud, BILLING_API);
    assert.equal(body.client_id, 'billing-mcp');
    assert.deepEqual((body.act as { sub: string }).sub, 'billing-mcp');
    assert.equal(body.jti, decodeJwt(hop2).jti);
  });

  it('answers a serving resource for its audience, and { active: false } only to anyone else', async () => {
    assert.equal(
      (await introspect(stack, stack.billing, hop1)).body.active,
      true,
      'billing serves hop 1 audience',
    );
    const stranger = await introspect(stack, stack.stranger, hop2);
    assert.deepEqual(stranger.body, { active: false });
  });

  it('answers { active: false } and nothing else for garbage and unknown tokens', async () => {
    for (const token of ['garbage', 'a.b.c', decodeJwt(hop2).jti as string]) {
      assert.deepEqual((await introspect(stack, stack.billing, token)).body, { active: false });
    }
  });

  it('requires the caller to authenticate (invalid_client, RFC 6749 §5.2)', async () => {
    const { status, body } = await introspect(stack, undefined, hop2);
    assert.equal(status, 401, JSON.stringify(body));
    assert.equal(body.error, 'invalid_client');
    assert.equal('active' in body, false);
  });

  it('revoking hop 1 (RFC 7009, by its client) makes hop 1 and everything derived from it inactive', async () => {
    assert.equal(await revoke(stack, stack.orders, hop1), 200);
    assert.deepEqual((await introspect(stack, stack.orders, hop1)).body, { active: false });
    assert.deepEqual((await introspect(stack, stack.billing, hop2)).body, { active: false });
    const onward = await exchange(stack.broker.issuer, stack.billing, {
      subject_token: hop1,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_API,
    });
    assert.equal(onward.body.error, 'invalid_grant', 'a revoked token cannot be exchanged again');
  });

  it('ignores a revocation request from a client the token was not issued to (still 200, per RFC 7009)', async () => {
    assert.equal(await revoke(stack, stack.stranger, hop1), 200);
    assert.equal((await introspect(stack, stack.orders, hop1)).body.active, true);
  });

  it('revoking the root grant makes all hops inactive at once', async () => {
    const record = await stack.broker.registry.find(decodeJwt(hop2).jti as string);
    assert.ok(record);
    await stack.broker.revoke({ root: record.root }, { actor: 'operator' });
    assert.equal((await introspect(stack, stack.orders, hop1)).body.active, false);
    assert.equal((await introspect(stack, stack.billing, hop2)).body.active, false);
  });

  it('revoking everything of one subject makes every chain carrying that person inactive', async () => {
    const other = await stack.userToken('bob', 'orders:read');
    const bobHop = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: other,
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    await stack.broker.revoke({ subject: 'user-alice' }, { actor: 'operator' });
    assert.equal((await introspect(stack, stack.billing, hop2)).body.active, false);
    assert.equal(
      (await introspect(stack, stack.orders, bobHop.body.access_token as string)).body.active,
      true,
      'bob is untouched',
    );
  });
});

/** A registry that counts its `status` lookups (each one a store round trip in production). */
class CountingRegistry extends MemoryTokenRegistry {
  lookups = 0;
  override async status(jti: string, now: number, clients?: readonly string[]) {
    this.lookups += 1;
    return super.status(jti, now, clients);
  }
}

describe('introspection checks the caller before the store', () => {
  const registry = new CountingRegistry();
  let stack: BrokerStack;
  let hop1: string;

  before(async () => {
    stack = await startBrokerStack({ registry });
    const first = await exchange(stack.broker.issuer, stack.orders, {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    hop1 = first.body.access_token as string;
  });
  after(() => stack.close());

  it('answers a caller that may not introspect the token without a registry lookup', async () => {
    const before = registry.lookups;
    assert.deepEqual((await introspect(stack, stack.stranger, hop1)).body, { active: false });
    assert.equal(registry.lookups, before, 'no store lookup for an unauthorised caller');
    assert.equal((await introspect(stack, stack.orders, hop1)).body.active, true);
    assert.equal(registry.lookups, before + 1, 'one lookup for a caller that may introspect');
  });
});
