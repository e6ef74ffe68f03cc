import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { serviceClientMetadata, TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import { generateSigningJwk, obtainUserAccessToken, startDemoIdp } from '@baton/demo-idp';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { fmt, summarize } from './stats.ts';

const ORDERS = 'http://127.0.0.1:4101/mcp';
const BILLING = 'http://127.0.0.1:4102/mcp';
const POLICY = `@id("orders-to-billing")
permit (principal == Baton::Client::"orders-mcp", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING}")
when { context.mode == "on_behalf_of" && context.scope == "billing:read" };`;

/** The child's own CPU time so far (user + system). */
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

/** Pins a child to core 0 when `taskset` is available, so "one core" means one core. */
function pin(pid: number | undefined): string {
  if (!pid) return 'unpinned';
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' });
    return 'pinned to core 0';
  } catch {
    return 'unpinned (no taskset)';
  }
}

async function load(url: string, bodies: string[], concurrency: number) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t0 = performance.now();
        const status = await new Promise<number>((resolve, reject) => {
          const outgoing = request(
            {
              agent,
              host: target.hostname,
              port: target.port,
              path: target.pathname,
              method: 'POST',
              headers: {
                'content-type': 'application/x-www-form-urlencoded',
                'content-length': Buffer.byteLength(body),
              },
            },
            (response) => {
              response.resume();
              response.on('end', () => resolve(response.statusCode ?? 0));
            },
          );
          outgoing.on('error', reject);
          outgoing.end(body);
        });
        if (status !== 200) failures += 1;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  agent.destroy();
  return { rate: bodies.length / ((performance.now() - started) / 1000), failures, ...summarize(latencies) };
}

/** Exchanges per second on one core vs a bare verify+sign HTTP server, in the same run. */
export async function benchBroker(calls = 6000, concurrency = 16): Promise<Array<Record<string, string>>> {
  const idpKey = await generateSigningJwk();
  const idp = await startDemoIdp({
    signingJwk: idpKey,
    resources: [{ resource: ORDERS, scopes: ['billing:read'] }],
  });
  const subjectToken = (
    await obtainUserAccessToken(idp, {
      username: 'alice',
      password: 'alice-demo-pw',
      resource: ORDERS,
      scope: 'billing:read',
    })
  ).access_token;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const client = serviceClientMetadata({
    clientId: 'orders-mcp',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256', use: 'sig' }] },
    resources: [ORDERS],
    grantTypes: [TOKEN_EXCHANGE_GRANT],
  });
  const { d: _d, ...idpPublicJwk } = idpKey as Record<string, unknown>;
  const setup = {
    idpIssuer: idp.issuer,
    subjectToken,
    client,
    audiences: [{ resource: BILLING, scopes: ['billing:read'] }],
    policy: POLICY,
    idpPublicJwk,
  };
  const rows: Array<Record<string, string>> = [];
  const results: Record<string, { rate: number; p50: number; p99: number; failures: number }> = {};
  const modes = ['bare', 'broker', ...(process.env.BENCH_BROKER_MEMORY_ONLY ? [] : ['broker-embedded'])];
  for (const mode of modes) {
    const child = fork(fileURLToPath(new URL('./broker-servers.ts', import.meta.url)), [mode], {
      stdio: 'inherit',
      execArgv: process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${mode}`]
        : [],
    });
    const pinned = pin(child.pid);
    child.send(setup);
    const { url, issuer } = (await new Promise((resolve) => child.once('message', resolve))) as {
      url: string;
      issuer?: string;
    };
    // Client assertions are signed ahead of time: the load generator's signing is not the server's cost.
    const makeBodies = async (count: number) =>
      Promise.all(
        Array.from({ length: count }, async () => {
          const now = Math.floor(Date.now() / 1000);
          const assertion = await new SignJWT({})
            .setProtectedHeader({ alg: 'ES256', kid: 'k' })
            .setIssuer('orders-mcp')
            .setSubject('orders-mcp')
            .setAudience(issuer ?? url)
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setExpirationTime(now + 300)
            .sign(privateKey);
          return new URLSearchParams({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            client_id: 'orders-mcp',
            client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            client_assertion: assertion,
            subject_token: subjectToken,
            subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            resource: BILLING,
            scope: 'billing:read',
          }).toString();
        }),
      );
    await load(url, await makeBodies(1500), concurrency); // warm-up
    const bodies = await makeBodies(calls);
    const before = await cpuOf(child);
    const result = await load(url, bodies, concurrency);
    const after = await cpuOf(child);
    const cpuMicros = (after.user + after.system - before.user - before.system) / calls;
    results[mode] = result;
    rows.push({
      server:
        mode === 'bare'
          ? 'bare node:http, 1 verify + 1 sign'
          : mode === 'broker'
            ? 'Baton broker, RFC 8693 exchange (memory store)'
            : 'Baton broker, RFC 8693 exchange (durable embedded store, PGlite)',
      core: pinned,
      'per second': fmt(result.rate),
      'p50 ms': fmt(result.p50, 2),
      'p99 ms': fmt(result.p99, 2),
      'server CPU µs/call': fmt(cpuMicros),
      failures: String(result.failures),
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    await exited;
  }
  await idp.close();
  const ratio = (100 * results.broker!.rate) / results.bare!.rate;
  rows[1]!['vs bound'] = `${fmt(ratio, 1)} % (target >= 50 %)`;
  rows[1]!['vs Keycloak 120/s/vCPU'] = `${fmt(results.broker!.rate / 120, 1)}x (target >= 25x)`;
  const embedded = results['broker-embedded'];
  if (embedded) {
    rows[2]!['vs bound'] = `${fmt((100 * embedded.rate) / results.bare!.rate, 1)} %`;
    rows[2]!['vs Keycloak 120/s/vCPU'] = `${fmt(embedded.rate / 120, 1)}x`;
  }
  return rows;
}
