import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AuditEvent, createLogger, MemoryAuditSink } from '@baton/audit';
import { EVENT_SCAN_LIMIT } from '../src/filters.ts';
import {
  createConsole,
  NO_SIGN_IN_BEHIND_TRUSTED_PROXY,
  type RunningConsole,
  startConsole,
} from '../src/index.ts';
import { RecordingReader } from './fixtures/recording-reader.ts';
import { MIXED_TRACE, tenantEvents } from './fixtures/tenants.ts';
import {
  ALICE_TRACE,
  BOB_DENIED_TRACE,
  BOB_SUMMARY_TRACE,
  fixtureEvents,
  fixtureSink,
} from './fixtures/three-hop.ts';

const XSS_TOOL = '<img src=x onerror=alert(1)>';
const XSS_TRACE = 'trace"><svg onload=alert(2)>';

/**
 * These tests are about what the console shows, so they serve it with the documented opt-out (behind
 * a proxy that authenticates); sign-in has its own tests (sign-in.test.ts, tenants.test.ts).
 */
const auth = NO_SIGN_IN_BEHIND_TRUSTED_PROXY;

/** An event whose every caller-chosen field is hostile markup. */
function hostileEvent(): AuditEvent {
  const [template] = fixtureEvents();
  return {
    ...template!,
    id: 'hostile-1',
    time: '2026-05-04T10:00:00.000Z',
    trace_id: XSS_TRACE,
    initiator: { sub: '"><script>alert(3)</script>', tenant: "'><b>tenant</b>" },
    agent: { id: '<i>agent</i>', client_id: '<i>agent</i>' },
    component: 'http://evil.example/<script>alert(4)</script>',
    action: 'tool.invoke',
    target: { type: 'tool', name: XSS_TOOL },
    delegation_mode: '<u>mode</u>',
    scopes: ['<s>scope</s>'],
    outcome: 'denied',
    reason: '</td><script>alert(5)</script>',
    chain: ['<b>svc</b>', '<i>agent</i>'],
    span_id: 'aaaaaaaaaaaaaaaa',
  };
}

describe('console over HTTP', () => {
  let app: RunningConsole;
  let reader: RecordingReader;

  before(async () => {
    const sink = await fixtureSink([...fixtureEvents(), hostileEvent()]);
    reader = new RecordingReader(sink);
    app = await startConsole({ reader, auth, logger: createLogger({ name: 'console', level: 'silent' }) });
  });
  after(() => app.close());

  const get = (path: string, init?: RequestInit) => fetch(new URL(path, app.url), init);

  test('the list form maps its parameters onto one AuditQuery, then reads the chosen traces whole in one query', async () => {
    reader.queries.length = 0;
    const response = await get(
      '/?user=alice&agent=agent-1&target=order_summary&outcome=ok&since=2026-05-04T09:00:00Z&until=2026-05-04T09:30:00Z',
    );
    assert.equal(response.status, 200);
    assert.deepEqual(reader.queries, [
      {
        user: 'alice',
        agent: 'agent-1',
        target: 'order_summary',
        outcome: 'ok',
        since: '2026-05-04T09:00:00.000Z',
        until: '2026-05-04T09:30:00.000Z',
        limit: EVENT_SCAN_LIMIT,
      },
      { traceIds: [ALICE_TRACE] },
    ]);
    const body = await response.text();
    assert.match(body, new RegExp(`href="/traces/${ALICE_TRACE}"`));
    assert.doesNotMatch(body, new RegExp(BOB_DENIED_TRACE));
    // The form shows what was asked for.
    assert.match(body, /name="user" value="alice"/);
    assert.match(body, /<option value="ok" selected>/);
  });

  test('a filter on a hop deep in the chain lists the whole trace (first tool, every event)', async () => {
    const response = await get('/api/traces?target=list_invoices');
    const { traces } = (await response.json()) as { traces: Array<Record<string, unknown>> };
    assert.equal(traces.length, 1);
    assert.equal(traces[0]!.trace_id, ALICE_TRACE);
    assert.deepEqual(traces[0]!.first, {
      action: 'tool.invoke',
      target: 'order_summary',
      component: 'http://127.0.0.1:4001/mcp',
    });
    assert.equal(traces[0]!.events, 9);
  });

  test('JSON list: newest first, worst outcome per trace', async () => {
    const response = await get('/api/traces?user=bob');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^application\/json/);
    const { traces, query } = (await response.json()) as {
      traces: Array<{ trace_id: string; outcome: string; step_up: boolean }>;
      query: unknown;
    };
    assert.deepEqual(query, { user: 'bob', limit: EVENT_SCAN_LIMIT });
    assert.deepEqual(
      traces.map((trace) => [trace.trace_id, trace.outcome, trace.step_up]),
      [
        [BOB_SUMMARY_TRACE, 'denied', false],
        [BOB_DENIED_TRACE, 'denied', true],
      ],
    );
  });

  test('JSON trace: hops in causal order with parents, and the graph', async () => {
    const response = await get(`/api/traces/${ALICE_TRACE}`);
    assert.equal(response.status, 200);
    const trace = (await response.json()) as {
      hops: Array<{ n: number; parent: number | null; event: AuditEvent }>;
      graph: { nodes: Array<{ kind: string; name: string }>; edges: unknown[] };
    };
    assert.equal(trace.hops.length, 9);
    assert.deepEqual(trace.hops[0]!.parent, null);
    assert.equal(trace.hops[0]!.event.target.name, 'order_summary');
    assert.deepEqual(
      trace.graph.nodes.map((node) => node.name),
      ['alice', 'agent-1', 'orders-mcp', 'orders-api', 'billing-mcp', '127.0.0.1:4010', 'billing-api'],
    );
    assert.equal(trace.graph.edges.length, 7);
  });

  test('an unknown trace is 404, as a page and as JSON', async () => {
    const page = await get('/traces/00000000000000000000000000000000');
    assert.equal(page.status, 404);
    assert.match(await page.text(), /No events were recorded for this trace/);
    const api = await get('/api/traces/00000000000000000000000000000000');
    assert.equal(api.status, 404);
    assert.deepEqual(await api.json(), {
      error: 'not_found',
      error_description: 'No events were recorded for this trace.',
    });
    assert.equal((await get('/traces/%E0%A4%A')).status, 404);
    assert.equal((await get('/traces/a/b')).status, 404);
    assert.equal((await get('/nothing-here')).status, 404);
  });

  test('every response carries a strict Content-Security-Policy, and pages need nothing it forbids', async () => {
    for (const path of [
      '/',
      `/traces/${ALICE_TRACE}`,
      '/api/traces',
      '/traces/missing',
      '/assets/console.css',
    ]) {
      const response = await get(path);
      const csp = response.headers.get('content-security-policy');
      assert.ok(csp, `CSP on ${path}`);
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /style-src 'self'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const body = await response.text();
      if (path !== '/assets/console.css') {
        // Nothing the policy would block: no script, no inline style.
        assert.doesNotMatch(body, /<script|\sstyle=|<style/i);
      }
    }
    const css = await get('/assets/console.css');
    assert.match(css.headers.get('content-type')!, /^text\/css/);
  });

  test('a hostile tool name and every other event field are escaped on both pages', async () => {
    const list = await (await get(`/?target=${encodeURIComponent(XSS_TOOL)}`)).text();
    const page = await (await get(`/traces/${encodeURIComponent(XSS_TRACE)}`)).text();
    for (const body of [list, page]) {
      assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'), 'tool name shown as text');
      assert.ok(!body.includes(XSS_TOOL), 'tool name never as markup');
      assert.doesNotMatch(body, /<script|<img|<svg onload|<i>agent|<b>svc|<u>mode|<s>scope/i);
      assert.ok(body.includes('&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;'), 'user escaped');
    }
    // The trace id is one encoded path segment in links, and text elsewhere.
    assert.ok(list.includes(`href="/traces/${encodeURIComponent(XSS_TRACE)}"`));
    assert.ok(page.includes('trace&quot;&gt;&lt;svg onload=alert(2)&gt;'));
    assert.ok(page.includes('&lt;/td&gt;&lt;script&gt;alert(5)&lt;/script&gt;'), 'reason escaped');
    // JSON keeps the exact value, with no raw angle bracket in the bytes.
    const api = await get(`/api/traces/${encodeURIComponent(XSS_TRACE)}`);
    const raw = await api.text();
    assert.doesNotMatch(raw, /[<>]/);
    const trace = JSON.parse(raw) as { hops: Array<{ event: AuditEvent }> };
    assert.equal(trace.hops[0]!.event.target.name, XSS_TOOL);
  });

  test('read-only: HEAD answers like GET without a body, other methods are refused', async () => {
    const head = await get('/', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.ok(head.headers.get('content-security-policy'));
    const post = await get('/', { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('bad filters are a 400 that says which, and nothing is read', async () => {
    reader.queries.length = 0;
    const page = await get('/?outcome=maybe');
    assert.equal(page.status, 400);
    assert.match(await page.text(), /outcome must be one of ok, denied, error/);
    const api = await get('/api/traces?since=yesterday');
    assert.equal(api.status, 400);
    assert.equal(((await api.json()) as { error: string }).error, 'invalid_request');
    assert.deepEqual(reader.queries, []);
  });
});

test('a reader that fails gives a 500 that does not repeat its error', async () => {
  const failures: unknown[] = [];
  const app = await startConsole({
    reader: {
      query: async () => {
        throw new Error('connect ECONNREFUSED db.internal:5432 password=hunter2');
      },
    },
    onError: (error) => failures.push(error),
    auth,
  });
  try {
    for (const path of ['/', '/api/traces', `/traces/${ALICE_TRACE}`]) {
      const response = await fetch(new URL(path, app.url));
      assert.equal(response.status, 500);
      assert.doesNotMatch(await response.text(), /ECONNREFUSED|hunter2|db\.internal/);
    }
    assert.equal(failures.length, 3);
  } finally {
    await app.close();
  }
});

test('the title option names the console; the reader is required', async () => {
  const app = await startConsole({ reader: new MemoryAuditSink(), title: 'Acme <audit>', auth });
  try {
    const body = await (await fetch(app.url)).text();
    assert.match(body, /<title>Traces · Acme &lt;audit&gt;<\/title>/);
    assert.match(body, /No traces match these filters/);
  } finally {
    await app.close();
  }
  assert.throws(() => createConsole({ auth } as never), /reader/);
  await assert.rejects(startConsole({ reader: undefined as never, auth }), /reader/);
});

describe('a trace that mixes two initiators (trace injection)', () => {
  let app: RunningConsole;
  before(async () => {
    app = await startConsole({ reader: await fixtureSink([...fixtureEvents(), ...tenantEvents()]), auth });
  });
  after(() => app.close());
  const get = (path: string) => fetch(new URL(path, app.url));

  test('the JSON says mixed_initiators and lists both initiators, never one person', async () => {
    const trace = (await (await get(`/api/traces/${MIXED_TRACE}`)).json()) as Record<string, unknown>;
    assert.equal(trace.mixed_initiators, true);
    assert.deepEqual(trace.initiators, [
      { sub: 'alice', tenant: 'acme' },
      { sub: 'bob', tenant: 'acme' },
    ]);
    const { traces } = (await (await get('/api/traces')).json()) as {
      traces: Array<{ trace_id: string; mixed_initiators: boolean }>;
    };
    assert.equal(traces.find((row) => row.trace_id === MIXED_TRACE)?.mixed_initiators, true);
    assert.equal(traces.find((row) => row.trace_id === ALICE_TRACE)?.mixed_initiators, false);
  });

  test('the trace page warns above everything else and names the initiator on every row', async () => {
    const body = await (await get(`/traces/${MIXED_TRACE}`)).text();
    const banner = /<div class="warning mixed-initiators" role="alert">(.*?)<\/div>/s.exec(body)?.[1] ?? '';
    assert.match(banner, /Mixed initiators: this is not one person's trace/);
    assert.match(banner, /alice \(tenant acme\), bob \(tenant acme\)/);
    assert.ok(
      body.indexOf('mixed-initiators') < body.indexOf('<h2>Identity chain'),
      'the warning comes first',
    );
    assert.match(body, /<dt>Initiators<\/dt>/);
    assert.doesNotMatch(body, /<dt>User<\/dt>/);
    assert.match(body, /<td class="initiator">alice \(tenant acme\)<\/td>/);
    assert.match(body, /<td class="initiator">bob \(tenant acme\)<\/td>/);
    // One person's trace has no warning.
    const single = await (await get(`/traces/${ALICE_TRACE}`)).text();
    assert.doesNotMatch(single, /mixed-initiators|⚠ mixed/);
  });

  test('the list marks the mixed trace', async () => {
    const body = await (await get('/')).text();
    const row = new RegExp(`<tr class="trace-row[^"]*" data-trace-id="${MIXED_TRACE}">(.*?)</tr>`, 's').exec(
      body,
    )?.[1];
    assert.match(row ?? '', /⚠ mixed initiators<\/span> alice, bob/);
  });

  test('a caller context kept as a link (not joined) is shown as a link to that trace', async () => {
    const body = await (await get('/traces/44444444444444444444444444444444')).text();
    assert.match(body, new RegExp(`linked not joined: <a href="/traces/${ALICE_TRACE}">`));
    assert.doesNotMatch(body, /mixed-initiators/);
  });
});
