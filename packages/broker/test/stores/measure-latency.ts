/**
 * Latency of the registry's hot calls, one at a time (no concurrency), against the real servers:
 *   node packages/broker/test/stores/measure-latency.ts [calls]
 * Not a test (no `.test.ts`): numbers depend on the machine. Cleans up its tables and keys.
 */
import { randomUUID } from 'node:crypto';
import { MemoryTokenRegistry } from '../../src/registry/memory-registry.ts';
import type { IssuedToken, TokenRegistry } from '../../src/registry/token-registry.ts';
import { PostgresRedisTokenRegistry } from '../../src/stores/postgres-redis-registry.ts';
import { deleteKeys, dropTables, openPool, openRedis, uniquePrefix } from './servers.ts';

const CALLS = Number(process.argv[2] ?? 5000);
const WARMUP = 500;
const now = Math.floor(Date.now() / 1000);

function percentiles(samples: number[]): string {
  const sorted = [...samples].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return `p50 ${at(0.5).toFixed(3)} ms  p99 ${at(0.99).toFixed(3)} ms  mean ${mean.toFixed(3)} ms  (n=${sorted.length})`;
}

async function timed(calls: number, run: (index: number) => Promise<unknown>): Promise<number[]> {
  for (let index = 0; index < WARMUP; index++) await run(index);
  const samples: number[] = [];
  for (let index = 0; index < calls; index++) {
    const started = performance.now();
    await run(index);
    samples.push(performance.now() - started);
  }
  return samples;
}

function chainOf(length: number): IssuedToken[] {
  const root = `https://idp.example#${randomUUID()}`;
  const chain: IssuedToken[] = [];
  for (let hop = 0; hop < length; hop++) {
    chain.push({
      jti: randomUUID(),
      parent: chain[hop - 1]?.jti ?? null,
      root,
      subject: 'user-alice',
      clientId: `agent-${hop}`,
      audience: 'https://billing.example/mcp',
      exp: now + 3600,
    });
  }
  return chain;
}

function report(name: string, label: string, samples: number[]): void {
  console.log(`${name}  ${label.padEnd(24)} ${percentiles(samples)}`);
}

async function measure(name: string, registry: TokenRegistry): Promise<void> {
  const fresh = Array.from({ length: CALLS + WARMUP }, () => chainOf(1)[0]!);
  report(name, 'record()', await timed(CALLS, (i) => registry.record(fresh[i]!)));
  for (const length of [1, 3]) {
    const chain = chainOf(length);
    for (const issued of chain) await registry.record(issued);
    const last = chain.at(-1)!.jti;
    const samples = await timed(CALLS, async () => {
      if (!(await registry.isActive(last, now))) throw new Error('expected active');
    });
    report(name, `isActive() chain of ${length}`, samples);
  }
  const revoked = chainOf(3);
  for (const issued of revoked) await registry.record(issued);
  await registry.revoke({ jti: revoked[1]!.jti });
  const samples = await timed(CALLS, async () => {
    if (await registry.isActive(revoked[2]!.jti, now)) throw new Error('expected inactive');
  });
  report(name, 'isActive() revoked', samples);
  const targets = Array.from({ length: 1000 + WARMUP }, () => randomUUID());
  report(name, 'revoke()', await timed(1000, (i) => registry.revoke({ jti: targets[i]! })));
}

const memory = new MemoryTokenRegistry();
await measure('memory        ', memory);
await memory.close();

const prefix = uniquePrefix();
const pool = openPool();
const redis = await openRedis();
const shared = await PostgresRedisTokenRegistry.create({
  pool,
  redis,
  tablePrefix: prefix,
  keyPrefix: `baton-bench:${prefix}`,
});
try {
  await measure('postgres+redis', shared);
} finally {
  await shared.close();
  await dropTables(pool, prefix);
  await deleteKeys(redis, `baton-bench:${prefix}`);
  await redis.close();
  await pool.end();
}
