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

/** The servers the child runs, by name, and user tokens for each. */
interface Targets {
  baton: string;
  baseline: string;
  cachedBaseline: string;
  tokens: { baton: string[]; baseline: string[]; cachedBaseline: string[] };
}

type Server = 'baseline' | 'cachedBaseline' | 'baton';
const SERVERS: readonly Server[] = ['baseline', 'cachedBaseline', 'baton'];

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

/**
 * Tool calls through the Baton boundary vs the same server behind only the SDK's bearer check, verifying
 * every token in full (what one writes without Baton) and with Baton's verified-token cache (so the
 * difference left is what the boundary itself adds). Costs are medians of per-round paired ratios.
 */
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
      for (const server of SERVERS) await load(targets[server], targets.tokens[server], 2000, concurrency);
    }
    const results: Record<Server, Run[]> = { baseline: [], cachedBaseline: [], baton: [] };
    const measured = async (server: Server): Promise<Run> => {
      const before = await cpuOf(child);
      const run = await load(targets[server], targets.tokens[server], calls, concurrency);
      const after = await cpuOf(child);
      return { ...run, serverCpuMicros: after.user + after.system - before.user - before.system };
    };
    for (let round = 0; round < rounds; round++) {
      // Rotate who goes first, so drift (GC, JIT, thermal, other load) hits every server alike.
      for (let i = 0; i < SERVERS.length; i++) {
        const server = SERVERS[(round + i) % SERVERS.length]!;
        results[server].push(await measured(server));
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
    // Each round pairs the servers under the same machine conditions: the spread of the per-round cost
    // says how much of a difference is noise.
    const quartiles = (perRound: number[]) => {
      const sorted = [...perRound].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      return `${fmt(at(0.5), 1)} % (rounds p25..p75 ${fmt(at(0.25), 1)}..${fmt(at(0.75), 1)})`;
    };
    const costAgainst = (reference: Server) => ({
      'throughput cost': quartiles(
        results.baton.map(
          (r, i) =>
            (100 * (results[reference][i]!.throughput - r.throughput)) / results[reference][i]!.throughput,
        ),
      ),
      'server CPU cost': quartiles(
        results.baton.map(
          (r, i) =>
            (100 * (r.serverCpuMicros - results[reference][i]!.serverCpuMicros)) /
            results[reference][i]!.serverCpuMicros,
        ),
      ),
    });
    return [
      row('SDK bearer check only', results.baseline),
      row('SDK bearer check + verified-token cache', results.cachedBaseline),
      row('Baton boundary (verify + envelope + audit)', results.baton),
      { server: 'Baton vs SDK bearer check (target <= 10 %)', ...costAgainst('baseline') },
      { server: 'Baton vs SDK + the same cache (what Baton adds)', ...costAgainst('cachedBaseline') },
    ];
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect(); // the child exits on disconnect, writing its profile if asked to
    await exited;
  }
}
