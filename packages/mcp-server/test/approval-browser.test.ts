import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { DEMO_USERS } from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../../../test/helpers/chromium.ts';
import { startApprovalStack } from './fixtures/approval-stack.ts';
import type { Stack } from './fixtures/stack.ts';

/** Debian's chromium (apt package `chromium`), as the console's browser tests use it. */

let stack: Stack;
let browser: BrowserContext;
let chromiumSession: Awaited<ReturnType<typeof launchChromium>> | undefined;
const ran: Array<{ sub: string; input: unknown }> = [];

before(async () => {
  stack = await startApprovalStack(ran);
  chromiumSession = await launchChromium();
  browser = chromiumSession.browser;
});

after(async () => {
  await chromiumSession?.close();
  await stack?.close();
});

it('alice approves her large order in a real browser, and the SDK client retries it to completion', async () => {
  const alice = DEMO_USERS.alice!;
  const token = await stack.tokenFor('alice');
  const seen: { tool?: string; input?: string; agent?: string } = {};
  const client = new Client({ name: 'browser-agent', version: '1' }, {
    capabilities: { elicitation: { url: {} } },
    versionNegotiation: { mode: { pin: '2026-07-28' } },
  } as never);
  client.setRequestHandler('elicitation/create', async (request) => {
    const page = await browser.newPage();
    await page.goto((request.params as { url: string }).url);
    await page.fill('input[name=username]', alice.username);
    await page.fill('input[name=password]', alice.password);
    await page.click('button[type=submit]');
    // The IdP may ask for consent to share the sign-in with the approval page.
    const allow = page.locator('form[data-step=consent] button');
    await page.waitForSelector('#approve, form[data-step=consent]');
    if (await allow.count()) await allow.click();
    await page.waitForSelector('#approve');
    seen.tool = (await page.textContent('#tool')) ?? undefined;
    seen.input = (await page.textContent('#input')) ?? undefined;
    seen.agent = (await page.textContent('#agent')) ?? undefined;
    assert.ok(!(await page.content()).includes(token), 'the approval page shows no token');
    await page.click('#approve');
    await page.waitForSelector('#outcome[data-outcome=approved]');
    await page.close();
    return { action: 'accept' };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.resource), {
      authProvider: { token: async () => token },
    }),
  );
  const result = await client.callTool({
    name: 'create_order',
    arguments: { item: 'tractor', amount: 45000 },
  });
  await client.close();
  assert.equal((result.content as Array<{ text: string }>)[0]!.text, 'ordered tractor x45000');
  assert.equal(seen.tool, 'create_order');
  assert.deepEqual(JSON.parse(seen.input!), { item: 'tractor', amount: 45000 });
  assert.ok(seen.agent);
  assert.deepEqual(ran.at(-1), { sub: 'user-alice', input: { item: 'tractor', amount: 45000 } });
  const trail = stack.audit.events.map((event) => `${event.action} ${event.outcome}`);
  assert.deepEqual(trail.slice(-3), ['tool.invoke denied', 'tool.approve ok', 'tool.invoke ok']);
});
