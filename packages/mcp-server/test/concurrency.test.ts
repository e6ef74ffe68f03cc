import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_USERS, type DemoUser } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { type Stack, startStack } from './fixtures/stack.ts';

const EXTRA_USERS: DemoUser[] = ['carol', 'dave'].map((name) => ({
  sub: `user-${name}`,
  username: name,
  password: `${name}-demo-pw`,
  name,
  email: `${name}@globex.example`,
  tenant: 'globex',
  roles: ['viewer'],
  allowedScopes: ['orders:read'],
}));
const USERS = [...Object.values(DEMO_USERS), ...EXTRA_USERS];
const CALLS = 1000;

describe('identities never mix under concurrency', () => {
  let stack: Stack;
  const clients = new Map<string, { client: Client; clientId: string }>();

  before(async () => {
    stack = await startStack({ users: USERS });
    for (const user of USERS) {
      const token = await stack.tokenFor(user.username, 'orders:read');
      const client = new Client({ name: `agent-of-${user.username}`, version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.resource), {
          authProvider: { token: async () => token },
        }),
      );
      clients.set(user.sub, { client, clientId: decodeJwt(token).client_id as string });
    }
  });
  after(async () => {
    for (const { client } of clients.values()) await client.close();
    await stack.close();
  });

  it(`${CALLS} interleaved concurrent calls from ${USERS.length} users each act for their own caller`, async () => {
    stack.observed.length = 0;
    const auditBefore = stack.audit.events.length;
    const calls = Array.from({ length: CALLS }, async (_, index) => {
      const caller = USERS[index % USERS.length]!;
      // Every call also tries to steer the tool towards the next user through its input.
      const victim = USERS[(index + 1) % USERS.length]!;
      const { client } = clients.get(caller.sub)!;
      const result = await client.callTool({ name: 'list_orders', arguments: { user_id: victim.sub } });
      const body = JSON.parse((result.content as Array<{ text: string }>)[0]!.text);
      return { caller: caller.sub, actedFor: body.sub as string };
    });
    const results = await Promise.all(calls);
    const mixed = results.filter((result) => result.caller !== result.actedFor);
    assert.deepEqual(mixed, [], 'a call acted for someone other than its caller');

    assert.equal(stack.observed.length, CALLS);
    for (const observation of stack.observed) {
      const { identity } = observation;
      const expected = USERS.find((user) => user.sub === identity.actor.sub)!;
      assert.equal(identity.actor.tenant, expected.tenant);
      assert.equal(
        identity.agent.client_id,
        clients.get(identity.actor.sub)!.clientId,
        'agent matches the user',
      );
    }
    const events = stack.audit.events.slice(auditBefore);
    assert.equal(events.length, CALLS);
    for (const event of events) {
      assert.equal(event.agent.client_id, clients.get(event.initiator.sub)!.clientId);
      assert.equal(event.outcome, 'ok');
    }
    assert.equal(new Set(stack.observed.map((observation) => observation.identity.id)).size, CALLS);
  });
});
