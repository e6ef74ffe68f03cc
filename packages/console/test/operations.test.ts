import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { auditEvent, createLogger, MemoryAuditSink } from '@baton/audit';
import pg from 'pg';
import { NO_SIGN_IN_BEHIND_TRUSTED_PROXY, type RunningConsole, startConsole } from '../src/index.ts';
import { CONSOLE_SERIES } from '../src/operations.ts';

const auth = NO_SIGN_IN_BEHIND_TRUSTED_PROXY;
const logger = createLogger({ name: 'console', level: 'silent' });

describe('console health, readiness and metrics', () => {
  let app: RunningConsole;
  const reader = new MemoryAuditSink();
  before(async () => {
    await reader.write(
      auditEvent({
        action: 'tool.invoke',
        component: 'http://127.0.0.1:4001/mcp',
        trace_id: 'trace-ops',
        initiator: { sub: 'alice-sub-7f3a', tenant: 'acme' },
        agent: { id: 'agent-1', client_id: 'agent-client-9c1' },
        target: { type: 'tool', name: 'list_orders' },
        delegation_mode: 'on_behalf_of',
        scopes: ['orders:read'],
        outcome: 'ok',
        duration_ms: 1,
        span_id: 'span-1',
      }),
    );
    app = await startConsole({ reader, auth, logger });
  });
  after(() => app.close());

  test('/healthz and /readyz answer 200 with no store to check', async () => {
    assert.equal((await fetch(new URL('/healthz', app.url))).status, 200);
    const ready = await fetch(new URL('/readyz', app.url));
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: [] });
  });

  test('a scrape counts pages by kind and status, and names no person, agent or trace', async () => {
    assert.equal((await fetch(app.url)).status, 200);
    assert.equal((await fetch(new URL('/traces/trace-ops', app.url))).status, 200);
    assert.equal((await fetch(new URL('/api/traces?user=alice-sub-7f3a', app.url))).status, 200);
    const scrape = await (await fetch(new URL('/metrics', app.url))).text();
    for (const series of CONSOLE_SERIES) assert.match(scrape, new RegExp(`^# TYPE ${series} `, 'm'));
    assert.match(scrape, /^baton_console_requests_total\{route="index",status="200"\} 1$/m);
    assert.match(scrape, /^baton_console_requests_total\{route="trace",status="200"\} 1$/m);
    assert.match(scrape, /^baton_console_requests_total\{route="api",status="200"\} 1$/m);
    for (const secret of ['alice-sub-7f3a', 'agent-client-9c1', 'trace-ops', 'acme']) {
      assert.equal(scrape.includes(secret), false, `the scrape contains ${secret}`);
    }
  });

  test('metrics: false serves no metrics', async () => {
    const quiet = await startConsole({ reader, auth, logger, metrics: false });
    try {
      assert.equal(quiet.metrics, undefined);
      const response = await fetch(new URL('/metrics', quiet.url));
      assert.notEqual(response.status, 200);
      await response.body?.cancel();
    } finally {
      await quiet.close();
    }
  });
});

test('console /readyz is 503 naming postgres (and no connection string) while its port is closed', async () => {
  const pool = new pg.Pool({
    connectionString: 'postgres://auditor:s3cret-pw@127.0.0.1:1/audit',
    connectionTimeoutMillis: 500,
  });
  pool.on('error', () => {});
  const app = await startConsole({
    reader: new MemoryAuditSink(),
    auth,
    logger,
    readiness: [{ name: 'postgres', check: () => pool.query('SELECT 1') }],
  });
  try {
    const response = await fetch(new URL('/readyz', app.url));
    assert.equal(response.status, 503);
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), {
      status: 'not_ready',
      checks: [{ name: 'postgres', ok: false, error: 'ECONNREFUSED' }],
    });
    for (const secret of ['s3cret-pw', 'auditor', '127.0.0.1']) assert.equal(text.includes(secret), false);
  } finally {
    await app.close();
    await pool.end();
  }
});
