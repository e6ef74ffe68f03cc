import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEMO_AUDITOR } from '@baton/demo-idp';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from '../../../test/helpers/chromium.ts';
import { type SignedInConsole, startSignedInConsole } from './fixtures/signed-in.ts';
import { OTHER_TENANT_TRACE, tenantEvents } from './fixtures/tenants.ts';
import {
  ALICE_TRACE,
  BOB_DENIED_TRACE,
  BOB_SUMMARY_TRACE,
  fixtureEvents,
  fixtureSink,
  URLS,
} from './fixtures/three-hop.ts';

/** Debian's chromium (apt package `chromium`): the one browser this machine and CI can install. */
const ARTIFACTS = join(import.meta.dirname, '.artifacts');

let app: SignedInConsole;
let browser: BrowserContext;
let chromiumSession: Awaited<ReturnType<typeof launchChromium>> | undefined;
let page: Page;
const cspViolations: string[] = [];

before(async () => {
  // The demo's three traces of tenant acme, and one of another tenant that the auditor must not see.
  const otherTenant = tenantEvents().filter((event) => event.trace_id === OTHER_TENANT_TRACE);
  app = await startSignedInConsole({ reader: await fixtureSink([...fixtureEvents(), ...otherTenant]) });
  chromiumSession = await launchChromium({ viewport: { width: 1400, height: 1000 } });
  browser = chromiumSession.browser;
  page = await browser.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await chromiumSession?.close();
  await app?.close();
});

/** The graph's nodes as `kind name`, and its edges as `from -> to: modes (outcome)`, read off the page. */
async function readGraph(): Promise<{ nodes: string[]; edges: Map<string, string> }> {
  const nodes = await page
    .locator('svg.identity-graph g.node')
    .evaluateAll((elements) => elements.map((element) => `${element.dataset.kind} ${element.dataset.name}`));
  const edges = await page
    .locator('svg.identity-graph g.edge')
    .evaluateAll((elements) =>
      elements.map(
        (element) =>
          [
            `${element.dataset.from} -> ${element.dataset.to}`,
            `${element.dataset.modes} (${element.dataset.outcome})`,
          ] as const,
      ),
    );
  return { nodes: nodes.sort(), edges: new Map(edges) };
}

/** An element's text (the DOM's, not layout-dependent `innerText`). */
async function textOf(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}

/** The lines an SVG group shows, one per `<text>` (`innerText` is for HTML elements only). */
async function shownLines(selector: string): Promise<string[]> {
  return page
    .locator(selector)
    .evaluateAll((elements) =>
      elements.map((element) =>
        [...element.querySelectorAll('text')].map((text) => text.textContent).join('\n'),
      ),
    );
}

test('the auditor signs in at the identity provider’s login page and lands on the console', {
  timeout: 60_000,
}, async () => {
  await page.goto(app.url);
  // Sent to the IdP: its own login form, then its consent form.
  assert.equal(new URL(page.url()).origin, app.idp.issuer);
  await page.getByLabel('Username').fill(DEMO_AUDITOR.username);
  await page.getByLabel('Password').fill(DEMO_AUDITOR.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(app.url);
  assert.match(
    await textOf(page.locator('header .account')),
    /signed in as user-erin · tenant acme · Sign out/,
  );
  const [session] = (await browser.cookies(app.url)).filter(
    (cookie) => cookie.name === 'baton-console-session',
  );
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/');
  // Tenant acme's three traces; the other tenant's is not there.
  assert.equal(await page.locator('tr.trace-row').count(), 3);
  assert.equal(await page.locator(`tr.trace-row[data-trace-id="${OTHER_TENANT_TRACE}"]`).count(), 0);
  await page.screenshot({ path: join(ARTIFACTS, 'signed-in.png'), fullPage: true });
});

test('filter by a user, open their trace, and read the identity chain off the graph', {
  timeout: 60_000,
}, async () => {
  await page.goto(app.url);
  assert.equal(await page.locator('tr.trace-row').count(), 3);

  await page.getByLabel('User (initiator sub)').fill('alice');
  await Promise.all([
    page.waitForURL(/[?&]user=alice/),
    page.getByRole('button', { name: 'Filter' }).click(),
  ]);
  const rows = page.locator('tr.trace-row');
  assert.equal(await rows.count(), 1);
  assert.match(await textOf(rows.first()), /alice\s+agent-1\s+order_summary/);

  await Promise.all([
    page.waitForURL(`**/traces/${ALICE_TRACE}`),
    rows.first().locator('a.trace-link').click(),
  ]);
  assert.match(await textOf(page.locator('h1')), new RegExp(ALICE_TRACE));

  const graph = await readGraph();
  assert.deepEqual(graph.nodes, [
    'agent agent-1',
    'api billing-api',
    'api orders-api',
    'broker 127.0.0.1:4010',
    'mcp billing-mcp',
    'mcp orders-mcp',
    'user alice',
  ]);
  const svc = (url: string) => `svc:${url}`;
  assert.deepEqual(
    graph.edges,
    new Map([
      ['user:alice -> agent:agent-1', ' (ok)'],
      [`agent:agent-1 -> ${svc(URLS.ordersMcp)}`, 'service_identity (ok)'],
      [`${svc(URLS.ordersMcp)} -> ${svc(URLS.ordersApi)}`, 'service_identity (ok)'],
      [`${svc(URLS.ordersMcp)} -> ${svc(URLS.billingMcp)}`, 'on_behalf_of (ok)'],
      [`${svc(URLS.ordersMcp)} -> ${svc(URLS.broker)}`, 'on_behalf_of (ok)'],
      [`${svc(URLS.billingMcp)} -> ${svc(URLS.billingApi)}`, 'on_behalf_of (ok)'],
      [`${svc(URLS.billingMcp)} -> ${svc(URLS.broker)}`, 'on_behalf_of (ok)'],
    ]),
  );
  // What a person sees: the services by name and URL, the labels with mode, audience and scopes.
  const svgText = await page.locator('svg.identity-graph').innerHTML();
  for (const text of [URLS.ordersMcp, URLS.billingApi, 'TOKEN BROKER', 'MCP SERVER'])
    assert.ok(svgText.includes(text), text);
  const labels = await shownLines('svg.identity-graph g.edge-label');
  assert.ok(
    labels.some(
      (label) =>
        /#5 token\.exchange aud billing-mcp/.test(label) && /on_behalf_of · billing:read/.test(label),
    ),
  );
  assert.ok(
    labels.some((label) => /#1 tool\.invoke order_summary/.test(label) && /service_identity/.test(label)),
  );
  // The events table lists all nine hops, in causal order.
  assert.equal(await page.locator('tr.hop-row').count(), 9);
  assert.match(await textOf(page.locator('tr.hop-row').first()), /order_summary/);

  await page.screenshot({ path: join(ARTIFACTS, 'trace.png'), fullPage: true });
});

test('a denial is highlighted: colour, dashes and words, on the edge, the node and the table', {
  timeout: 60_000,
}, async () => {
  await page.goto(app.url);
  await page.getByLabel('User (initiator sub)').fill('bob');
  await page.getByLabel('Outcome').selectOption('denied');
  await Promise.all([
    page.waitForURL(/outcome=denied/),
    page.getByRole('button', { name: 'Filter' }).click(),
  ]);
  assert.equal(await page.locator('tr.trace-row').count(), 2);
  const stepUpRow = page.locator(`tr.trace-row[data-trace-id="${BOB_DENIED_TRACE}"]`);
  assert.match(await textOf(stepUpRow), /denied: step-up/);
  await Promise.all([
    page.waitForURL(`**/traces/${BOB_DENIED_TRACE}`),
    stepUpRow.locator('a.trace-link').click(),
  ]);

  const edge = page.locator(`svg.identity-graph g.edge[data-from="agent:agent-2"]`);
  assert.equal(await edge.getAttribute('data-outcome'), 'denied');
  assert.match((await edge.getAttribute('class')) ?? '', /state-step-up/);
  // The stylesheet really applied (the CSP allows it): a thick purple dashed line, not the grey of ok.
  const line = await edge.locator('path.edge-line').evaluate((element) => {
    const style = getComputedStyle(element);
    return { stroke: style.stroke, dash: style.strokeDasharray, width: style.strokeWidth };
  });
  assert.deepEqual(line, { stroke: 'rgb(106, 27, 154)', dash: '8px, 5px', width: '3px' });
  assert.match(
    (await shownLines('svg.identity-graph g.edge-label.state-step-up')).join('\n'),
    /#1 tool\.invoke create_order\n.*\n⤴ DENIED, STEP-UP NEEDED scope_insufficient/,
  );
  assert.match(
    (await shownLines('svg.identity-graph g.node.state-step-up')).join('\n'),
    /asked for step-up here/,
  );
  assert.match(await textOf(page.locator('tr.hop-row.state-step-up')), /scope_insufficient/);
  assert.ok(await page.locator('ul.legend').getByText('STEP-UP NEEDED').isVisible());
  await page.screenshot({ path: join(ARTIFACTS, 'trace-step-up.png'), fullPage: true });

  // A refusal by the broker in bob's other trace: red, and the broker is where it happened.
  await page.goto(new URL(`/traces/${BOB_SUMMARY_TRACE}`, app.url).href);
  assert.equal(page.url(), new URL(`/traces/${BOB_SUMMARY_TRACE}`, app.url).href, 'still signed in');
  const refused = page.locator(`svg.identity-graph g.edge[data-to="svc:${URLS.broker}"]`);
  assert.match((await refused.getAttribute('class')) ?? '', /state-denied/);
  assert.equal(
    await refused.locator('path.edge-line').evaluate((element) => getComputedStyle(element).stroke),
    'rgb(198, 40, 40)',
  );
  assert.match((await shownLines('svg.identity-graph g.node.node-broker')).join('\n'), /refused here/);
  assert.ok(
    (await shownLines('svg.identity-graph g.edge-label')).some((label) =>
      /✕ DENIED scope_wider_than_subject/.test(label),
    ),
  );
  await page.screenshot({ path: join(ARTIFACTS, 'trace-denied.png'), fullPage: true });
});

test('signing out ends the session: the next page goes back to the identity provider', {
  timeout: 60_000,
}, async () => {
  // What a cross-site link does: a top-level GET navigation. It is refused and ends nothing.
  const navigated = await page.goto(new URL('/auth/sign-out', app.url).href);
  assert.equal(navigated?.status(), 405);
  assert.equal(
    (await browser.cookies(app.url)).filter((cookie) => cookie.name === 'baton-console-session').length,
    1,
  );
  await page.goto(app.url);
  // A form POST from the console's own page: the browser sends Origin and Sec-Fetch-Site: same-origin.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/auth/sign-out');
  assert.match(await textOf(page.locator('h1')), /Signed out/);
  assert.deepEqual(
    (await browser.cookies(app.url)).filter((cookie) => cookie.name === 'baton-console-session'),
    [],
  );
  const toProvider: string[] = [];
  const onRequest = (request: { url(): string }) => {
    if (request.url().startsWith(`${app.idp.issuer}/auth`)) toProvider.push(request.url());
  };
  page.on('request', onRequest);
  // The provider still remembers erin (single sign-on), so it sends her straight back.
  await page.goto(new URL(`/traces/${ALICE_TRACE}`, app.url).href);
  await page.waitForURL(`**/traces/${ALICE_TRACE}`);
  page.off('request', onRequest);
  assert.equal(toProvider.length, 1, 'the console asked the provider again');
});

test('the pages ran with nothing blocked by the Content-Security-Policy', () => {
  assert.deepEqual(cspViolations, []);
});
