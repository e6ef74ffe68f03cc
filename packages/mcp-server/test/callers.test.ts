import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { delegationOf } from '@baton/core';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type RefusalProbe, refusalProbe } from './fixtures/refusal-probe.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

/** A machine registered at the IdP: client credentials, approved for `orders:read` only. */
const BATCH_AGENT = {
  client_id: 'batch-agent',
  client_secret: 'batch-agent-secret',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'orders:read',
  token_endpoint_auth_method: 'client_secret_basic',
};

/** A real client-credentials access token from the stack's IdP: `sub` is the client, no person. */
async function machineToken(stack: Stack): Promise<string> {
  const response = await fetch(new URL('/token', stack.idp.issuer), {
    method: 'POST',
    headers: {
      authorization: `Basic ${btoa(`${BATCH_AGENT.client_id}:${BATCH_AGENT.client_secret}`)}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: stack.resource,
      scope: 'orders:read',
    }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { access_token: string }).access_token;
}

async function callTool(stack: Stack, token: string, name: string) {
  const client = new Client({ name: 'callers-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => token },
    }),
  );
  try {
    return (await client.callTool({ name, arguments: {} })) as {
      isError?: boolean;
      content: Array<{ text: string }>;
    };
  } finally {
    await client.close();
  }
}

describe('people and machines at the boundary (default: machines refused)', () => {
  let stack: Stack;
  let probe: RefusalProbe;
  before(async () => {
    stack = await startStack({ idpClients: [BATCH_AGENT] });
    probe = await refusalProbe(stack);
  });
  after(() => stack.close());

  it('refuses a client-credentials token acting as a person: 401 invalid_token, reason caller_not_a_person', async () => {
    const answer = await probe.call(`Bearer ${await machineToken(stack)}`);
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'invalid_token');
    assert.match(answer.challenge, /error="invalid_token"/);
    assert.equal(answer.reason, 'caller_not_a_person');
  });

  it('a machine cannot write orders: the tool never runs and nothing is audited as its action', async () => {
    const before = stack.observed.length;
    const events = stack.audit.events.length;
    const answer = await probe.call(
      `Bearer ${await probe.forge(probe.claims({ sub: 'batch-agent', client_id: 'batch-agent' }))}`,
    );
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'caller_not_a_person');
    assert.equal(stack.observed.length, before);
    assert.equal(stack.audit.events.length, events);
  });

  it('a person behind an agent is still let in', async () => {
    const answer = await probe.call(`Bearer ${await probe.forge()}`);
    assert.equal(answer.status, 200);
  });
});

describe('people and machines at a boundary that accepts services', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ idpClients: [BATCH_AGENT], boundary: { serviceCallers: 'accept' } });
  });
  after(() => stack.close());

  it('gives a machine an envelope with actor.type "service", on a tool that admits services', async () => {
    const result = await callTool(stack, await machineToken(stack), 'stock_level');
    assert.equal(result.isError, undefined);
    assert.deepEqual(JSON.parse(result.content[0]!.text), { for: 'batch-agent', type: 'service' });
    const event = stack.audit.events.at(-1)!;
    assert.equal(event.outcome, 'ok');
    assert.equal(event.initiator.sub, 'batch-agent');
  });

  it('a machine calling a person-only tool is refused and the denial audited (actor_type_not_allowed)', async () => {
    const result = await callTool(stack, await machineToken(stack), 'list_orders');
    assert.equal(result.isError, true);
    assert.match(result.content[0]!.text, /acts for a person/);
    const event = stack.audit.events.at(-1)!;
    assert.equal(event.outcome, 'denied');
    assert.equal(event.reason, 'actor_type_not_allowed');
    assert.equal(event.initiator.sub, 'batch-agent');
    assert.equal(event.target.name, 'list_orders');
  });

  it('a person still gets actor.type "user"', async () => {
    const result = await callTool(stack, await stack.tokenFor('alice'), 'stock_level');
    assert.deepEqual(JSON.parse(result.content[0]!.text), { for: 'user-alice', type: 'user' });
  });
});

describe('a deployment-specific caller rule', () => {
  let stack: Stack;
  before(async () => {
    // An issuer that marks app tokens with a claim (as Entra does with idtyp) rather than sub = client_id.
    stack = await startStack({
      boundary: { callerKind: (claims) => (claims.claims.idtyp === 'app' ? 'service' : 'user') },
    });
  });
  after(() => stack.close());

  it('refuses a token the rule calls a machine although its sub is not the client id', async () => {
    const probe = await refusalProbe(stack);
    const answer = await probe.call(
      `Bearer ${await probe.forge(probe.claims({ sub: 'sp-object-id', idtyp: 'app' }))}`,
    );
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'caller_not_a_person');
  });
});

describe('a caller rule that reads the delegation chain', () => {
  let stack: Stack;
  let probe: RefusalProbe;
  let asked = 0;
  before(async () => {
    stack = await startStack({
      boundary: {
        callerKind: (claims) => {
          asked += 1;
          // Throws on a malformed act: the boundary must have refused such a token already.
          return delegationOf(claims).agent === claims.subject ? 'service' : 'user';
        },
      },
    });
    probe = await refusalProbe(stack);
  });
  after(() => stack.close());

  it('refuses a malformed act as the token fault (401 claims_invalid) before the rule sees it', async () => {
    const before = asked;
    const answer = await probe.call(
      `Bearer ${await probe.forge(probe.claims({ act: { sub: 'agent-under-test', act: 'not-an-actor' } }))}`,
    );
    assert.equal(answer.status, 401);
    assert.equal(answer.reason, 'claims_invalid');
    assert.equal(asked, before, 'the rule never saw the malformed chain');
  });

  it('asks the rule once per verified token (remembered with its acceptance), not once per request', async () => {
    const before = asked;
    const token = await probe.forge();
    const first = await probe.call(`Bearer ${token}`);
    assert.notEqual(first.status, 401);
    assert.equal(asked, before + 1);
    const again = await probe.call(`Bearer ${token}`);
    assert.notEqual(again.status, 401);
    assert.equal(asked, before + 1, 'the same token again: the rule is not asked again');
    const other = await probe.call(`Bearer ${await probe.forge()}`);
    assert.notEqual(other.status, 401);
    assert.equal(asked, before + 2, 'another token: the rule is asked for it');
  });
});
