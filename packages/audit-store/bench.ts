/**
 * Audit store costs on this machine: write throughput with 8 concurrent writers (what group commit
 * buys: one fdatasync, one INSERT for many events) and single-write latency (one at a time, so each
 * pays its own fdatasync, and for PostgreSQL its own round trip), against a no-op sink. Nothing here
 * passes or fails; it measures and returns rows for `console.table`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEvent, type AuditSink, auditEvent } from '@baton/audit';
import pg from 'pg';
import { FileAuditStore, PostgresAuditStore } from './src/index.ts';

const POSTGRES_URL = process.env.BATON_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CONCURRENCY = 8;
const THROUGHPUT_EVENTS = 4000;
const LATENCY_EVENTS = 400;

const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function event(i: number): AuditEvent {
  return auditEvent({
    action: 'tool.invoke',
    component: 'https://orders-mcp.example',
    trace_id: randomBytes(16).toString('hex'),
    initiator: { sub: `user-${i % 50}`, tenant: 'acme' },
    agent: { id: 'agent-1', client_id: 'client-1' },
    target: { type: 'tool', name: 'orders.list' },
    delegation_mode: 'obo',
    scopes: ['orders:read'],
    outcome: 'ok',
    duration_ms: 2.5,
    span_id: randomBytes(8).toString('hex'),
  });
}

/** Events per second with `CONCURRENCY` loops writing `total` events between them. */
async function throughput(sink: AuditSink, total: number): Promise<number> {
  let next = 0;
  const loop = async () => {
    while (next < total) await sink.write(event(next++));
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return total / ((performance.now() - started) / 1000);
}

/** p50 and p99 in ms of `count` sequential writes. */
async function latency(sink: AuditSink, count: number): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await sink.write(event(i));
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function measure(label: string, sink: AuditSink): Promise<Record<string, string>> {
  await throughput(sink, 200); // warm-up
  const rate = await throughput(sink, THROUGHPUT_EVENTS);
  const { p50, p99 } = await latency(sink, LATENCY_EVENTS);
  return {
    sink: label,
    [`writes/s (${CONCURRENCY} concurrent)`]: fmt(rate),
    'single write p50 ms': fmt(p50, 3),
    'single write p99 ms': fmt(p99, 3),
  };
}

export async function benchAuditStores(): Promise<Array<Record<string, string>>> {
  const rows: Array<Record<string, string>> = [];
  const directory = mkdtempSync(join(tmpdir(), 'baton-audit-bench-'));
  const prefix = `bench_${randomBytes(4).toString('hex')}_`;
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: CONCURRENCY });
  pool.on('error', () => {});
  try {
    rows.push(await measure('no-op sink (baseline)', { write: async () => {} }));

    const file = await FileAuditStore.open({ directory: join(directory, 'file') });
    rows.push(await measure('FileAuditStore (write + fdatasync, group commit)', file));
    await file.close();

    for (const failurePolicy of ['fail-closed', 'buffer'] as const) {
      try {
        const store = await PostgresAuditStore.open({
          pool,
          tablePrefix: `${prefix}${failurePolicy === 'buffer' ? 'b' : 'f'}_`,
          outboxDirectory: join(directory, `outbox-${failurePolicy}`),
          writer: 'bench',
          failurePolicy,
        });
        await store.drain();
        rows.push(
          await measure(
            failurePolicy === 'fail-closed'
              ? 'PostgresAuditStore fail-closed (outbox fdatasync + INSERT)'
              : 'PostgresAuditStore buffer (outbox fdatasync; INSERT in background)',
            store,
          ),
        );
        await store.close();
      } catch (error) {
        rows.push({
          sink: `PostgresAuditStore ${failurePolicy}`,
          'writes/s (8 concurrent)': `unavailable: ${error}`,
        });
      }
    }
  } finally {
    const { rows: tables } = await pool
      .query<{ tablename: string }>(
        'SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
        [prefix],
      )
      .catch(() => ({ rows: [] as Array<{ tablename: string }> }));
    for (const { tablename } of tables) await pool.query(`DROP TABLE IF EXISTS ${tablename}`).catch(() => {});
    await pool.end();
    rmSync(directory, { recursive: true, force: true });
  }
  return rows;
}
