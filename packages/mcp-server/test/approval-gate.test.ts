import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import type { Identity } from '@baton/core';
import { type ApprovalCall, Approvals } from '../src/approval/approvals.ts';
import { memoryApprovalStore } from '../src/approval/store.ts';

const identity: Identity = Object.freeze({
  actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
  agent: 'agent-1',
  client: 'agent-1',
  session: 'session-1',
  scopes: ['orders:write'],
  delegation: { mode: 'restricted_user', services: [], chain: ['agent-1'] },
  token: { issuer: 'https://idp.example', id: undefined, issuedAt: undefined, expiresAt: 0 },
}) as Identity;

function setup() {
  let clock = 1_000_000_000_000;
  const store = memoryApprovalStore({ now: () => clock });
  const approvals = new Approvals(
    { issuer: 'https://idp.example', clientId: 'c', store, ttlSeconds: 300, now: () => clock },
    {
      resource: new URL('https://orders.example/mcp'),
      audit: new MemoryAuditSink(),
      component: 'https://orders.example/mcp',
      logger: createLogger({ name: 't', destination: { write: () => {} } }),
    },
  );
  const call = (input: unknown, claimed?: string): ApprovalCall => ({
    identity,
    issuer: 'https://idp.example',
    tool: 'create_order',
    input,
    rules: ['large'],
    client: { era: 'modern', urlElicitation: true },
    claimed,
  });
  const approve = async (id: string) => {
    assert.ok(await store.transition(id, 'pending', 'approved', 900));
  };
  return { approvals, call, approve, tick: (seconds: number) => (clock += seconds * 1000) };
}

describe('approvals: one-time, short-lived, bound to the call', () => {
  it('refuses a retry that replays an approval already used', async () => {
    const { approvals, call, approve } = setup();
    const asked = await approvals.gate(call({ amount: 5000 }));
    assert.equal(asked.kind, 'ask');
    const id = (asked as { approvalId: string }).approvalId;
    await approve(id);
    assert.deepEqual(await approvals.gate(call({ amount: 5000 }, id)), { kind: 'run', approvalId: id });
    const replayed = await approvals.gate(call({ amount: 5000 }, id));
    assert.equal(replayed.kind === 'refuse' && replayed.reason, 'approval_replayed');
  });

  it('refuses an approval used after its window', async () => {
    const { approvals, call, approve, tick } = setup();
    const asked = await approvals.gate(call({ amount: 5000 }));
    const id = (asked as { approvalId: string }).approvalId;
    await approve(id);
    tick(301);
    const late = await approvals.gate(call({ amount: 5000 }, id));
    assert.equal(late.kind === 'refuse' && late.reason, 'approval_expired');
  });

  it('refuses a retry naming an approval given for another input', async () => {
    const { approvals, call, approve } = setup();
    const asked = await approvals.gate(call({ amount: 5000 }));
    const id = (asked as { approvalId: string }).approvalId;
    await approve(id);
    const other = await approvals.gate(call({ amount: 50000 }, id));
    assert.equal(other.kind === 'refuse' && other.reason, 'approval_input_mismatch');
  });

  it('binds the approval to canonical input: key order does not matter, values do', async () => {
    const { approvals, call, approve } = setup();
    const asked = await approvals.gate(call({ item: 'car', amount: 5000 }));
    const id = (asked as { approvalId: string }).approvalId;
    await approve(id);
    assert.equal((await approvals.gate(call({ amount: 5000, item: 'car' }, id))).kind, 'run');
  });

  it('refuses when the client cannot show a URL elicitation', async () => {
    const { approvals, call } = setup();
    const refused = await approvals.gate({
      ...call({ amount: 5000 }),
      client: { era: 'modern', urlElicitation: false },
    });
    assert.equal(refused.kind === 'refuse' && refused.reason, 'approval_not_supported');
  });
});
