import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger, MemoryAuditSink } from '@baton/audit';
import type { Identity } from '@baton/core';
import { DEMO_USERS, scriptedLogin } from '@baton/demo-idp';
import {
  Client,
  StreamableHTTPClientTransport,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/client';
import { Approvals } from '../src/approval/approvals.ts';
import { ApprovalPages } from '../src/approval/page.ts';
import { memoryApprovalStore } from '../src/approval/store.ts';
import {
  APPROVAL_CLIENT,
  answerApproval,
  mountPolicyOrdersWithNodeApprovals,
  startApprovalStack,
} from './fixtures/approval-stack.ts';
import type { Stack } from './fixtures/stack.ts';

/** The approval URL a 2025-11-25 client is sent to for a large order with `input`. */
async function approvalUrl(stack: Stack, input: { item: string; amount: number }): Promise<string> {
  const client = new Client({ name: 'approval-page-test', version: '1' }, {
    versionNegotiation: { mode: 'legacy' },
  } as never);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => await stack.tokenFor('alice') },
    }),
  );
  try {
    await client.callTool({ name: 'create_order', arguments: input });
    assert.fail('the call ran without approval');
  } catch (error) {
    assert.ok(error instanceof UrlElicitationRequiredError, String(error));
    return error.elicitations[0]!.url;
  } finally {
    await client.close();
  }
}

/** Starts the sign-in at `url` and signs in as `username`: the sign-in redirect, and the page after it. */
async function signIn(url: string, username: string) {
  const user = Object.values(DEMO_USERS).find((candidate) => candidate.username === username)!;
  const start = await fetch(url, { redirect: 'manual' });
  await start.body?.cancel();
  const setCookie = start.headers.getSetCookie();
  const cookie = setCookie.map((line) => line.split(';')[0]).join('; ');
  const location = new URL(start.headers.get('location')!);
  const callback = await scriptedLogin(location.href, { username, password: user.password });
  const review = await fetch(new URL(callback.pathname + callback.search, url), { headers: { cookie } });
  return { location, setCookie, status: review.status, html: await review.text() };
}

describe('approval page hardening (real IdP, HTTP)', () => {
  let stack: Stack;
  const ran: Array<{ sub: string; input: unknown }> = [];
  before(async () => {
    stack = await startApprovalStack(ran);
  });
  after(() => stack?.close());

  it('refuses an unauthenticated 1 MiB form post with 413 before looking for a form token', async () => {
    const url = await approvalUrl(stack, { item: 'crane', amount: 5000 });
    const posted = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `decision=approve&form_token=${'a'.repeat(1024 * 1024)}`,
    });
    await posted.body?.cancel();
    assert.equal(posted.status, 413);
  });

  it('shows bidirectional overrides and control characters in the input as \\u{…}, not as they act', async () => {
    const item = 'invoice\u202Efdp.exe\u2066x\u2069\u0085\u0007';
    const url = await approvalUrl(stack, { item, amount: 5000 });
    const review = await signIn(url, 'alice');
    assert.equal(review.status, 200);
    const shown = /<pre id="input">([\s\S]*?)<\/pre>/.exec(review.html)![1]!;
    for (const hidden of ['\u202E', '\u2066', '\u2069', '\u0085', '\u0007'])
      assert.ok(!review.html.includes(hidden), `U+${hidden.codePointAt(0)!.toString(16)} reached the page`);
    assert.match(shown, /invoice\\u\{202e\}fdp\.exe\\u\{2066\}x\\u\{2069\}\\u\{85\}/);
    // JSON's own escape of the bell stays as JSON writes it.
    assert.match(shown, /\\u0007/);
  });

  it('asks the IdP for a fresh sign-in (prompt=login, max_age=0), and sets the state cookie HttpOnly and SameSite=Lax on http', async () => {
    const url = await approvalUrl(stack, { item: 'drill', amount: 5000 });
    const review = await signIn(url, 'alice');
    assert.equal(review.location.searchParams.get('prompt'), 'login');
    assert.equal(review.location.searchParams.get('max_age'), '0');
    assert.equal(review.status, 200);
    const [cookie] = review.setCookie;
    assert.match(cookie!, /^baton-approval-state=[^;]+; /);
    assert.match(cookie!, /; HttpOnly/);
    assert.match(cookie!, /; SameSite=Lax/);
  });
});

describe('an approval sign-in reusing an earlier IdP session', () => {
  let stack: Stack;
  before(async () => {
    // The page's clock an hour ahead: to it, the IdP's auth_time (now) is an hour before the sign-in
    // started, as a session reused despite prompt=login and max_age=0 would be.
    stack = await startApprovalStack([], { now: () => Date.now() + 3_600_000 });
  });
  after(() => stack?.close());

  it('refuses an ID token whose auth_time predates the sign-in, and audits approval_sign_in_stale', async () => {
    const url = await approvalUrl(stack, { item: 'lathe', amount: 5000 });
    const from = stack.audit.events.length;
    const review = await signIn(url, 'alice');
    assert.equal(review.status, 403);
    assert.ok(!review.html.includes('form_token'), 'a form was shown for a stale sign-in');
    const refusal = stack.audit.events.slice(from).find((event) => event.action === 'tool.approve');
    assert.equal(refusal?.outcome, 'denied');
    assert.equal(refusal?.reason, 'approval_sign_in_stale');
  });
});

for (const on of ['node', 'express'] as const) {
  describe(`the approval form behind the Node adapter (protectNodeRequests on ${on === 'node' ? 'node:http' : 'Express with express.urlencoded'})`, () => {
    let stack: Stack;
    const ran: Array<{ sub: string; input: unknown }> = [];
    before(async () => {
      stack = await startApprovalStack(ran, { mount: mountPolicyOrdersWithNodeApprovals(ran, on) });
    });
    after(() => stack?.close());

    it('takes the decision form the person posts (application/x-www-form-urlencoded)', async () => {
      const url = await approvalUrl(stack, { item: 'saw', amount: 5000 });
      const answered = await answerApproval(url, 'alice', 'approve');
      assert.equal(answered.status, 200, answered.html);
      assert.match(answered.html, /data-outcome="approved"/);
    });

    it('still refuses an oversized form post with 413', async () => {
      const url = await approvalUrl(stack, { item: 'axe', amount: 5000 });
      const posted = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `decision=approve&form_token=${'a'.repeat(64 * 1024)}`,
      });
      await posted.body?.cancel();
      assert.equal(posted.status, 413);
    });
  });
}

describe('the approval state cookie on an https origin', () => {
  let stack: Stack;
  let pages: ApprovalPages;
  let approvals: Approvals;
  before(async () => {
    stack = await startApprovalStack([]);
    approvals = new Approvals(
      {
        issuer: stack.idp.issuer,
        clientId: APPROVAL_CLIENT.client_id,
        clientSecret: APPROVAL_CLIENT.client_secret,
        store: memoryApprovalStore(),
      },
      {
        resource: new URL('https://orders.example/mcp'),
        audit: new MemoryAuditSink(),
        component: 'https://orders.example/mcp',
        logger: createLogger({ name: 't', destination: { write: () => {} } }),
      },
    );
    pages = new ApprovalPages(approvals, createLogger({ name: 't', destination: { write: () => {} } }));
  });
  after(() => stack?.close());

  const identity = Object.freeze({
    actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
    agent: 'agent-1',
    client: 'agent-1',
    session: 'session-1',
    scopes: ['orders:write'],
    delegation: { mode: 'restricted_user', services: [], chain: ['agent-1'] },
    token: { issuer: 'https://idp.example', id: undefined, issuedAt: undefined, expiresAt: 0 },
  }) as Identity;

  async function start(): Promise<Response> {
    const asked = await approvals.gate({
      identity,
      issuer: stack.idp.issuer,
      tool: 'create_order',
      input: { amount: 5000 },
      rules: ['large'],
      client: { era: 'modern', urlElicitation: true },
      claimed: undefined,
    });
    const url = new URL(approvals.urlOf((asked as { approvalId: string }).approvalId));
    return pages.handle(new Request(url), url);
  }

  it('is a __Host- cookie, Secure, Path=/, HttpOnly, SameSite=Lax', async () => {
    const started = await start();
    assert.equal(started.status, 303);
    const cookie = started.headers.get('set-cookie')!;
    assert.match(cookie, /^__Host-baton-approval-state=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Lax/);
    assert.doesNotMatch(cookie, /Domain=/i);
  });

  it('refuses a callback carrying the state in a plain-name cookie (one a sibling http page could plant)', async () => {
    const started = await start();
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
    const url = new URL(`https://orders.example/.baton/approve/callback?state=${state}&code=x`);
    const answered = await pages.handle(
      new Request(url, { headers: { cookie: `baton-approval-state=${state}` } }),
      url,
    );
    assert.equal(answered.status, 400);
    assert.match(await answered.text(), /Sign-in not recognised/);
  });
});
