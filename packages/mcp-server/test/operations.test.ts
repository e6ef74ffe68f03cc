import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditEvent } from '@baton/audit';
import { PostgresAuditStore } from '@baton/audit-store';
import { EnvelopeIssuer, SharedEnvelopeKeys } from '@baton/envelope';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import pg from 'pg';
import { TokenCache } from '../src/downstream/token-cache.ts';
import { BOUNDARY_SERIES, BoundaryOperations, envelopeKeysCheck } from '../src/index.ts';
import { type Stack, startStack } from './fixtures/stack.ts';

const scrape = async (operations: BoundaryOperations) =>
  (await operations.fetch(new Request('http://127.0.0.1/metrics')))!.text();

describe('boundary operations (opt-in health, readiness and metrics)', () => {
  let stack: Stack;
  let operations: BoundaryOperations;
  before(async () => {
    operations = new BoundaryOperations();
    stack = await startStack({ boundary: { operations } });
  });
  after(() => stack.close());

  it('a scrape after calls by alice and bob counts decisions and contains neither sub nor token', async () => {
    const tokens: string[] = [];
    for (const user of ['alice', 'bob']) {
      const token = await stack.tokenFor(user);
      tokens.push(token);
      const client = new Client({ name: 'operations-test-agent', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(stack.resource), {
          authProvider: { token: async () => token },
        }),
      );
      await client.callTool({ name: 'list_orders', arguments: {} });
      await client.close();
    }
    // A read-only token calling a tool that writes: refused (403) at the boundary, and audited.
    const readOnly = await stack.tokenFor('bob', 'orders:read');
    tokens.push(readOnly);
    const refused = await fetch(stack.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${readOnly}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'create_order', arguments: { item: 'x' } },
      }),
    });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();

    const text = await scrape(operations);
    for (const series of BOUNDARY_SERIES) assert.match(text, new RegExp(`^# TYPE ${series} `, 'm'));
    assert.match(
      text,
      /^baton_boundary_decisions_total\{action="tool.invoke",outcome="ok",reason="none"\} 2$/m,
    );
    assert.match(
      text,
      /^baton_boundary_decisions_total\{action="tool.invoke",outcome="denied",reason="scope_insufficient"\} 1$/m,
    );
    // Three tokens, each verified in full once; every later request on a session is a cache hit.
    assert.match(text, /^baton_boundary_verified_token_lookups_total\{result="miss"\} 3$/m);
    const hits = Number(
      /^baton_boundary_verified_token_lookups_total\{result="hit"\} (\d+)$/m.exec(text)?.[1],
    );
    assert.ok(hits >= 2, `verified-token cache hits: ${hits}`);
    const subjects = tokens.map((token) => String(decodeJwt(token).sub));
    for (const secret of [...tokens, ...subjects, 'alice', 'bob']) {
      assert.equal(text.includes(secret), false, `the scrape contains ${secret.slice(0, 12)}…`);
    }
  });

  it('/healthz, and /readyz with the envelope keys loaded', async () => {
    const ready = new BoundaryOperations({ readiness: [envelopeKeysCheck(stack.envelopes)] });
    assert.equal((await ready.fetch(new Request('http://127.0.0.1/healthz')))!.status, 200);
    const response = (await ready.fetch(new Request('http://127.0.0.1/readyz')))!;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      status: 'ready',
      checks: [{ name: 'envelope_keys', ok: true }],
    });
    assert.equal(
      await ready.fetch(new Request('http://127.0.0.1/mcp')),
      undefined,
      'other paths are not its',
    );
    const empty = new BoundaryOperations({ readiness: [envelopeKeysCheck({ jwks: () => ({ keys: [] }) })] });
    const notReady = (await empty.fetch(new Request('http://127.0.0.1/readyz')))!;
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), {
      status: 'not_ready',
      checks: [{ name: 'envelope_keys', ok: false, error: 'NO_KEYS' }],
    });
  });

  it('/readyz fails while the shared envelope keys cannot be re-read (the instance would sign with a stale key)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'baton-readyz-keys-'));
    const path = join(directory, 'envelope-keys.json');
    const keys = await SharedEnvelopeKeys.fromKeyFile(path, {
      retentionSeconds: 600,
      reloadIntervalSeconds: 3600,
    });
    try {
      const issuer = new EnvelopeIssuer({ issuer: 'https://mcp.example', trustDomain: 'example', keys });
      const operations = new BoundaryOperations({
        readiness: [envelopeKeysCheck(issuer)],
        readinessCacheMs: 0,
      });
      const readyz = async () => (await operations.fetch(new Request('http://127.0.0.1/readyz')))!;
      assert.equal((await readyz()).status, 200);
      await writeFile(path, 'not json', { mode: 0o600 });
      for (let attempt = 0; attempt < 3; attempt += 1) await keys.reload().catch(() => {});
      const notReady = await readyz();
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), {
        status: 'not_ready',
        checks: [{ name: 'envelope_keys', ok: false, error: 'KEYS_UNAVAILABLE' }],
      });
    } finally {
      keys.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('downstream token cache hit rate', () => {
  it('counts hits, joined requests and misses per cache, without keys or tokens', async () => {
    const operations = new BoundaryOperations();
    const cache = new TokenCache({ onLookup: operations.tokenCacheLookup('delegated') });
    const obtain = async () => ({
      accessToken: 'secret-token-value',
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    });
    await Promise.all([cache.get('user-alice|billing', obtain), cache.get('user-alice|billing', obtain)]);
    await cache.get('user-alice|billing', obtain);
    const text = await scrape(operations);
    assert.match(text, /^baton_boundary_token_cache_lookups_total\{cache="delegated",result="miss"\} 1$/m);
    assert.match(text, /^baton_boundary_token_cache_lookups_total\{cache="delegated",result="joined"\} 1$/m);
    assert.match(text, /^baton_boundary_token_cache_lookups_total\{cache="delegated",result="hit"\} 1$/m);
    assert.equal(text.includes('alice'), false);
    assert.equal(text.includes('secret-token-value'), false);
  });
});

describe('audit outbox depth and lag', () => {
  it('shows events buffered while PostgreSQL is unreachable (a closed port)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'baton-outbox-metrics-'));
    const pool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 300,
    });
    pool.on('error', () => {});
    const store = await PostgresAuditStore.open({
      pool,
      outboxDirectory: directory,
      writer: 'ops-metrics',
      failurePolicy: 'buffer',
      drainRetryMs: { min: 60_000, max: 60_000 },
    });
    try {
      const operations = new BoundaryOperations({ auditOutbox: store });
      assert.match(await scrape(operations), /^baton_audit_outbox_pending_events 0$/m);
      await store.write(
        auditEvent({
          action: 'tool.invoke',
          component: 'http://127.0.0.1:4001/mcp',
          trace_id: 'trace-outbox',
          initiator: { sub: 'alice', tenant: 'acme' },
          agent: { id: 'agent-1', client_id: 'agent-1' },
          target: { type: 'tool', name: 'list_orders' },
          delegation_mode: 'on_behalf_of',
          scopes: ['orders:read'],
          outcome: 'ok',
          duration_ms: 1,
          span_id: 'span-outbox',
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = await scrape(operations);
      assert.match(text, /^baton_audit_outbox_pending_events 1$/m);
      const lag = Number(/^baton_audit_outbox_lag_seconds (\S+)$/m.exec(text)?.[1]);
      assert.ok(lag > 0 && lag < 60, `lag ${lag}`);
    } finally {
      await store.close().catch(() => {});
      await pool.end();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
