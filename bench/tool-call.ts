import { type ChildProcess, fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { fmt, summarize } from './stats.ts';

type Run = Awaited<ReturnType<typeof load>> & { serverCpuMicros: number };

function cpuOf(child: ChildProcess): Promise<NodeJS.CpuUsage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (message && typeof message === 'object' && 'cpu' in message) {
        child.off('message', onMessage);
        resolve((message as { cpu: NodeJS.CpuUsage }).cpu);
      }
    };
    child.on('message', onMessage);
    child.send('cpu');
  });
}

interface Targets {
  baton: string;
  baseline: string;
  tokens: { baton: string[]; baseline: string[] };
}

/**
 * A lean keep-alive HTTP load generator: each worker posts a JSON-RPC `tools/call` (2025-11-25
 * stateless serving, as the SDK client itself negotiates) and reads the whole answer. Lean on purpose:
 * on two cores a heavy client would be the bottleneck and hide what the server spends.
 */
export async function load(url: string, tokens: string[], calls: number, concurrency: number) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'list_orders', arguments: {} },
  });
  const post = (token: string) =>
    new Promise<void>((resolve, reject) => {
      const outgoing = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () =>
            response.statusCode === 200 && text.includes('"result"') && !text.includes('"isError":true')
              ? resolve()
              : reject(new Error(`tool call failed in benchmark: ${response.statusCode}`)),
          );
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const token = tokens[worker % tokens.length]!;
      while (next < calls) {
        next += 1;
        const t0 = performance.now();
        await post(token);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { throughput: calls / seconds, ...summarize(latencies) };
}

/** Tool calls through the Baton boundary vs the same server behind only the SDK's bearer check. */
export async function benchToolCalls(
  calls = 2000,
  concurrency = 8,
  rounds = 15,
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
    for (let warmup = 0; warmup < 3; warmup++) {
      await load(targets.baseline, targets.tokens.baseline, 2000, concurrency);
      await load(targets.baton, targets.tokens.baton, 2000, concurrency);
    }
    const results = { baseline: [] as Run[], baton: [] as Run[] };
    const measured = async (url: string, tokens: string[]): Promise<Run> => {
      const before = await cpuOf(child);
      const run = await load(url, tokens, calls, concurrency);
      const after = await cpuOf(child);
      return { ...run, serverCpuMicros: after.user + after.system - before.user - before.system };
    };
    for (let round = 0; round < rounds; round++) {
      // Alternate, and swap who goes first, so drift (GC, JIT, thermal) hits both sides alike.
      if (round % 2 === 0) {
        results.baseline.push(await measured(targets.baseline, targets.tokens.baseline));
        results.baton.push(await measured(targets.baton, targets.tokens.baton));
      } else {
        results.baton.push(await measured(targets.baton, targets.tokens.baton));
        results.baseline.push(await measured(targets.baseline, targets.tokens.baseline));
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const cpuPerCall = (list: Run[]) => median(list.map((r) => r.serverCpuMicros / calls));
    const row = (name: string, list: Run[]) => ({
      server: name,
      'calls/s': fmt(median(list.map((r) => r.throughput))),
      'p50 ms': fmt(median(list.map((r) => r.p50)), 2),
      'p99 ms': fmt(median(list.map((r) => r.p99)), 2),
      'server CPU µs/call': fmt(cpuPerCall(list)),
    });
    const baseline = median(results.baseline.map((r) => r.throughput));
    const baton = median(results.baton.map((r) => r.throughput));
    // Each round pairs the two servers under the same machine conditions: the spread of the per-round
    // cost says how much of the difference is noise.
    const perRound = results.baton
      .map(
        (r, i) => (100 * (results.baseline[i]!.throughput - r.throughput)) / results.baseline[i]!.throughput,
      )
      .sort((a, b) => a - b);
    const quartile = (q: number) => perRound[Math.min(perRound.length - 1, Math.floor(q * perRound.length))]!;
    const cpuCost =
      (100 * (cpuPerCall(results.baton) - cpuPerCall(results.baseline))) / cpuPerCall(results.baseline);
    return [
      row('SDK bearer check only', results.baseline),
      {
        ...row('Baton boundary (verify + envelope + audit)', results.baton),
        'throughput cost': `${fmt((100 * (baseline - baton)) / baseline, 1)} % (rounds p25..p75 ${fmt(quartile(0.25), 1)}..${fmt(quartile(0.75), 1)}; target <= 10 %)`,
        'server CPU cost': `${fmt(cpuCost, 1)} %`,
      },
    ];
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect(); // the child exits on disconnect, writing its profile if asked to
    await exited;
  }
}
