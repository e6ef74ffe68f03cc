import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { DEMO_USERS } from '@baton/demo-idp';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../../../test/helpers/chromium.ts';
import { runAgent } from '../src/agent.ts';
import { type DemoTopology, startTopology } from '../src/topology.ts';

/** Debian's chromium (apt package `chromium`), as the console's browser tests use it. */

let demo: DemoTopology;
let browser: BrowserContext;
let chromiumSession: Awaited<ReturnType<typeof launchChromium>> | undefined;
const audit = new MemoryAuditSink();

before(async () => {
  const zero = { idpPort: 0, ordersMcpPort: 0, billingMcpPort: 0, ordersApiPort: 0, billingApiPort: 0 };
  demo = await startTopology({ host: '127.0.0.1', brokerPort: 0, ...zero }, { audit });
  chromiumSession = await launchChromium();
  browser = chromiumSession.browser;
});

after(async () => {
  await chromiumSession?.close();
  await demo?.close();
});

it("alice's large order runs once she approves it in a real browser; the agent is the official SDK client", async () => {
  const alice = DEMO_USERS.alice;
  const shown: string[] = [];
  // The agent's elicitation handler opens the approval page in Chromium, where alice signs in at the
  // IdP and presses Approve.
  const approveInBrowser = async (url: string) => {
    const page = await browser.newPage();
    try {
      await page.goto(url);
      await page.fill('input[name=username]', alice.username);
      await page.fill('input[name=password]', alice.password);
      await page.click('button[type=submit]');
      await page.waitForSelector('#approve, form[data-step=consent]');
      const consent = page.locator('form[data-step=consent] button');
      if (await consent.count()) await consent.click();
      await page.waitForSelector('#approve');
      shown.push((await page.textContent('#tool')) ?? '', (await page.textContent('#input')) ?? '');
      await page.click('#approve');
      await page.waitForSelector('#outcome[data-outcome=approved]');
    } finally {
      await page.close();
    }
  };
  const run = await runAgent(
    demo.urls.ordersMcp,
    { username: alice.username, password: alice.password },
    [
      { tool: 'create_order', arguments: { item: 'tent peg', quantity: 40 } },
      { tool: 'create_order', arguments: { item: 'tent', quantity: 2000 } },
    ],
    () => {},
    { approve: approveInBrowser },
  );
  assert.deepEqual(
    run.steps.map((step) => step.ok),
    [true, false],
  );
  assert.match(run.steps[0]!.text, /"quantity":40/);
  assert.match(run.steps[1]!.text, /denied by policy rule "no-bulk-orders"/);
  assert.equal(shown[0], 'create_order');
  assert.deepEqual(JSON.parse(shown[1]!), { item: 'tent peg', quantity: 40 });
  const orders = audit.events.filter((event) => event.target.name === 'create_order');
  assert.deepEqual(
    orders.map((event) => `${event.action} ${event.outcome}${event.reason ? ` ${event.reason}` : ''}`),
    [
      'tool.invoke denied approval_required',
      'tool.approve ok',
      'tool.invoke ok',
      'tool.invoke denied policy_denied',
    ],
  );
  assert.deepEqual(orders.at(-1)?.policy_rules, ['no-bulk-orders']);
});
