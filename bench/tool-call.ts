import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { fmt, summarize } from './stats.ts';

interface Targets {
  baton: string;
  baseline: string;
  tokens: { baton: string[]; baseline: string[] };
}

async function load(url: string, tokens: string[], calls: number, concurrency: number) {
  const clients: Client[] = [];
  for (let i = 0; i < concurrency; i++) {
    const token = tokens[i % tokens.length]!;
    const client = new Client({ name: `bench-${i}`, version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), { authProvider: { token: async () => token } }),
    );
    clients.push(client);
  }
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (next < calls) {
        next += 1;
        const t0 = performance.now();
        const result = await client.callTool({ name: 'list_orders', arguments: {} });
        latencies.push(performance.now() - t0);
        if (result.isError) throw new Error('tool call failed in benchmark');
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) await client.close();
  return { throughput: calls / seconds, ...summarize(latencies) };
}

/** Tool calls through the Baton boundary vs the same server behind only the SDK's bearer check. */
export async function benchToolCalls(
  calls = 4000,
  concurrency = 8,
  rounds = 3,
): Promise<Array<Record<string, string>>> {
  const child = fork(fileURLToPath(new URL('./tool-call-servers.ts', import.meta.url)), [], {
    stdio: 'inherit',
    // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the servers, to see where the time goes.
    execArgv: process.env.BENCH_CPU_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
      : [],
  });
  const targets = await new Promise<Targets>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Targets));
    child.once('error', reject);
  });
  try {
    await load(targets.baseline, targets.tokens.baseline, 500, concurrency); // warm-up both
    await load(targets.baton, targets.tokens.baton, 500, concurrency);
    const results = {
      baseline: [] as Awaited<ReturnType<typeof load>>[],
      baton: [] as Awaited<ReturnType<typeof load>>[],
    };
    for (let round = 0; round < rounds; round++) {
      // Alternate so drift (GC, JIT, thermal) hits both sides alike.
      results.baseline.push(await load(targets.baseline, targets.tokens.baseline, calls, concurrency));
      results.baton.push(await load(targets.baton, targets.tokens.baton, calls, concurrency));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const row = (name: string, list: Awaited<ReturnType<typeof load>>[]) => ({
      server: name,
      'calls/s': fmt(median(list.map((r) => r.throughput))),
      'p50 ms': fmt(median(list.map((r) => r.p50)), 2),
      'p99 ms': fmt(median(list.map((r) => r.p99)), 2),
    });
    const baseline = median(results.baseline.map((r) => r.throughput));
    const baton = median(results.baton.map((r) => r.throughput));
    return [
      row('SDK bearer check only', results.baseline),
      {
        ...row('Baton boundary (verify + envelope + audit)', results.baton),
        cost: `${fmt((100 * (baseline - baton)) / baseline, 1)} % (target <= 10 %)`,
      },
    ];
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect(); // the child exits on disconnect, writing its profile if asked to
    await exited;
  }
}
