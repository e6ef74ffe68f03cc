import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MemoryAuditSink } from '@baton/audit';
import {
  Client,
  StreamableHTTPClientTransport,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/client';
import { ToolPolicy } from '../src/policy/tool-policy.ts';
import { answerApproval, ORDERS_POLICY, startApprovalStack } from './fixtures/approval-stack.ts';
import type { Stack } from './fixtures/stack.ts';

const MODERN = { mode: { pin: '2026-07-28' } };

describe('tool policy is validated when the boundary is built', () => {
  it('refuses a policy that reads an attribute Baton does not provide, naming the rule', () => {
    assert.throws(
      () =>
        new ToolPolicy({
          policies: `@id("typo") permit (principal, action, resource) when { principal.tenent == "acme" };`,
        }),
      (error: unknown) => error instanceof TypeError && /rule "typo"/.test(error.message),
    );
  });
  it('refuses an input attribute the operator did not declare', () => {
    assert.throws(
      () =>
        new ToolPolicy({
          policies: `@id("undeclared") permit (principal, action, resource) when { context.input has amount && context.input.amount > 1 };`,
        }),
      /rule "undeclared"/,
    );
  });
  it('refuses a rule without @id, and @approval on a forbid', () => {
    assert.throws(() => new ToolPolicy({ policies: 'permit (principal, action, resource);' }), /@id/);
    assert.throws(
      () =>
        new ToolPolicy({ policies: '@id("f") @approval("required") forbid (principal, action, resource);' }),
      /only has a meaning on permit rules/,
    );
  });
  it('accepts the orders policy', () => {
    const policy = new ToolPolicy({ policies: ORDERS_POLICY, inputAttributes: { amount: 'Long' } });
    assert.equal(policy.asksForApproval, true);
  });
});

describe('per-tool policy and human approval through the boundary', () => {
  let stack: Stack;
  const ran: Array<{ sub: string; input: unknown }> = [];
  before(async () => {
    stack = await startApprovalStack(ran);
  });
  after(() => stack.close());

  async function connect(
    token: string,
    options: { elicit?: (url: string) => Promise<void>; legacy?: boolean } = {},
  ): Promise<Client> {
    const client = new Client({ name: 'policy-test', version: '1' }, {
      capabilities: options.elicit ? { elicitation: { url: {} } } : {},
      versionNegotiation: options.legacy ? { mode: 'legacy' } : MODERN,
    } as never);
    if (options.elicit) {
      const elicit = options.elicit;
      client.setRequestHandler('elicitation/create', async (request) => {
        await elicit((request.params as { url: string }).url);
        return { action: 'accept' };
      });
    }
    await client.connect(
      new StreamableHTTPClientTransport(new URL(stack.resource), {
        authProvider: { token: async () => token },
      }),
    );
    return client;
  }
  const textOf = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;
  const events = (audit: MemoryAuditSink, from: number) => audit.events.slice(from);

  it('runs what policy permits, and denies naming the forbidding rule (in the result, the audit and the log)', async () => {
    const client = await connect(await stack.tokenFor('alice'));
    assert.equal(
      textOf(await client.callTool({ name: 'create_order', arguments: { item: 'pen', amount: 3 } })),
      'ordered pen x3',
    );
    const from = stack.audit.events.length;
    const denied = await client.callTool({
      name: 'create_order',
      arguments: { item: 'ship', amount: 500000 },
    });
    await client.close();
    assert.equal(denied.isError, true);
    assert.match(textOf(denied), /denied by policy rule "no-huge-orders"/);
    const [event] = events(stack.audit, from);
    assert.equal(event?.reason, 'policy_denied');
    assert.deepEqual(event?.policy_rules, ['no-huge-orders']);
    assert.ok(
      stack.logLines.some((line) => line.includes('no-huge-orders') && line.includes('policy_denied')),
    );
  });

  it('refuses a client that cannot open a URL elicitation, saying approval is required', async () => {
    const client = await connect(await stack.tokenFor('alice'));
    const from = stack.audit.events.length;
    const result = await client.callTool({ name: 'create_order', arguments: { item: 'car', amount: 5000 } });
    await client.close();
    assert.equal(result.isError, true);
    assert.match(textOf(result), /approval required/);
    assert.equal(events(stack.audit, from)[0]?.reason, 'approval_not_supported');
  });

  it('runs a large order once alice approves it on the approval page (2026-07-28 input_required)', async () => {
    const token = await stack.tokenFor('alice');
    const pages: Array<{ status: number; html: string }> = [];
    const client = await connect(token, {
      elicit: async (url) => {
        pages.push(await answerApproval(url, 'alice', 'approve'));
      },
    });
    const from = stack.audit.events.length;
    const result = await client.callTool({ name: 'create_order', arguments: { item: 'car', amount: 5000 } });
    await client.close();
    assert.equal(textOf(result), 'ordered car x5000');
    assert.match(pages[0]!.html, /data-outcome="approved"/);
    const trail = events(stack.audit, from).map((event) =>
      `${event.action} ${event.outcome} ${event.reason ?? ''}`.trim(),
    );
    assert.deepEqual(trail, ['tool.invoke denied approval_required', 'tool.approve ok', 'tool.invoke ok']);
    const approvalId = events(stack.audit, from)[0]!.approval_id;
    assert.ok(approvalId);
    assert.ok(events(stack.audit, from).every((event) => event.approval_id === approvalId));
    // No raw token anywhere.
    assert.ok(!stack.logLines.some((line) => line.includes(token)));
    assert.ok(!JSON.stringify(stack.audit.events).includes(token));
    assert.ok(!pages[0]!.html.includes(token));
  });

  it('does not run what the person denied', async () => {
    const client = await connect(await stack.tokenFor('alice'), {
      elicit: async (url) => {
        await answerApproval(url, 'alice', 'deny');
      },
    });
    const before = ran.length;
    const from = stack.audit.events.length;
    const result = await client.callTool({ name: 'create_order', arguments: { item: 'boat', amount: 7000 } });
    await client.close();
    assert.equal(result.isError, true);
    assert.match(textOf(result), /denied/);
    assert.equal(ran.length, before);
    const reasons = events(stack.audit, from).map((event) => `${event.action} ${event.reason ?? ''}`.trim());
    assert.deepEqual(reasons, [
      'tool.invoke approval_required',
      'tool.approve approval_denied',
      'tool.invoke approval_denied',
    ]);
  });

  it("refuses another person signing in to approve alice's call", async () => {
    const pages: Array<{ status: number; html: string }> = [];
    const client = await connect(await stack.tokenFor('alice'), {
      elicit: async (url) => {
        pages.push(await answerApproval(url, 'bob', 'approve'));
      },
    });
    const before = ran.length;
    const from = stack.audit.events.length;
    const result = await client.callTool({
      name: 'create_order',
      arguments: { item: 'house', amount: 9000 },
    });
    await client.close();
    assert.equal(pages[0]!.status, 403);
    assert.equal(result.isError, true);
    assert.match(textOf(result), /pending/);
    assert.equal(ran.length, before);
    const approve = events(stack.audit, from).find((event) => event.action === 'tool.approve');
    assert.equal(approve?.reason, 'approval_wrong_person');
    assert.equal(approve?.initiator.sub, 'user-bob');
  });

  it('answers a 2025-11-25 client with URLElicitationRequiredError; the same call then runs once, and another input is not covered', async () => {
    const token = await stack.tokenFor('alice');
    const client = await connect(token, { legacy: true });
    let url: string | undefined;
    await assert.rejects(
      client.callTool({ name: 'create_order', arguments: { item: 'bike', amount: 2500 } }),
      (error) => {
        assert.ok(error instanceof UrlElicitationRequiredError, String(error));
        assert.match(error.message, /approval required/);
        url = error.elicitations[0]!.url;
        return true;
      },
    );
    assert.ok(url?.startsWith(`${new URL(stack.resource).origin}/.baton/approve/`));
    await answerApproval(url!, 'alice', 'approve');
    // Another input: the approval does not cover it; a new approval is asked for.
    await assert.rejects(
      client.callTool({ name: 'create_order', arguments: { item: 'bike', amount: 2600 } }),
      (error) => {
        assert.ok(error instanceof UrlElicitationRequiredError);
        assert.notEqual(error.elicitations[0]!.url, url);
        return true;
      },
    );
    assert.equal(
      textOf(await client.callTool({ name: 'create_order', arguments: { item: 'bike', amount: 2500 } })),
      'ordered bike x2500',
    );
    // One-time: the same call again needs a new approval.
    await assert.rejects(
      client.callTool({ name: 'create_order', arguments: { item: 'bike', amount: 2500 } }),
      (error) => {
        assert.ok(error instanceof UrlElicitationRequiredError);
        assert.notEqual(error.elicitations[0]!.url, url);
        return true;
      },
    );
    await client.close();
  });
});
