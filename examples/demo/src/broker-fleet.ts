import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { AuditEvent, AuditSink } from '@baton/audit';
import {
  DEMO_RECEIVERS,
  type DemoBroker,
  type DemoUrls,
  demoAudiences,
  demoClients,
  demoPolicy,
  demoServiceCredentials,
  POLICY_DEFAULTS,
} from './broker.ts';
import { type LoadBalancer, startLoadBalancer } from './load-balancer.ts';

/** Where the brokers keep their state: PostgreSQL (clients, token records, replay) and Redis (revocations). */
export interface BrokerStore {
  postgresUrl: string;
  redisUrl: string;
  /** Prefix of the brokers' Redis keys, so several deployments (or test runs) share one Redis. */
  keyPrefix: string;
}

/** How long a broker instance may take to start, and to stop after SIGTERM before it is killed. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

function withoutCredentials(url: string): string {
  const bare = new URL(url);
  bare.username = '';
  bare.password = '';
  return bare.href;
}

/** The `baton-broker` bin beside the package's entry point (its sources in this workspace). */
function brokerBin(): string {
  return fileURLToPath(import.meta.resolve('@baton/broker')).replace(/index\.(ts|js)$/, 'cli.$1');
}

/**
 * The token broker as it is deployed: `instances` processes of the `baton-broker` bin sharing one
 * configuration, one signing-key file and one PostgreSQL + Redis, behind a load balancer whose URL is
 * the issuer. Each instance logs its audit events as JSON lines (the bin's `LogAuditSink`); the demo
 * reads them as a log collector would and hands each to `audit(instance)`.
 */
export async function startBrokerFleet(options: {
  host: string;
  publicHost: string;
  port: number;
  idpIssuer: string;
  urls: DemoUrls;
  store: BrokerStore;
  /** Configuration, policy and the shared signing-key file go here. */
  dataDir: string;
  audit: (instance: string) => AuditSink;
  logs?: (instance: string) => Writable;
  instances?: number;
}): Promise<DemoBroker & { balancer: LoadBalancer }> {
  const balancer = await startLoadBalancer({
    host: options.host,
    port: options.port,
    publicHost: options.publicHost,
  });
  const credentials = await demoServiceCredentials();
  const dir = join(options.dataDir, 'broker');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'policy.cedar'), await demoPolicy(options.urls, balancer.url));
  const configFile = join(dir, 'broker.json');
  await writeFile(
    configFile,
    JSON.stringify(
      {
        issuer: balancer.url,
        host: options.host,
        port: 0,
        trustedIssuers: [{ issuer: options.idpIssuer }],
        audiences: demoAudiences(options.urls),
        policy: { file: 'policy.cedar', defaults: POLICY_DEFAULTS },
        clients: demoClients(credentials, options.urls),
        signingKeysFile: 'broker-signing-keys.json',
        // Every hop polls its revocations from whichever instance; the identity provider pushes its
        // sign-outs and disabled accounts to the load balancer.
        sharedSignals: { receivers: DEMO_RECEIVERS },
        identityProviderSignals: { issuers: [{ issuer: options.idpIssuer }] },
        // Where, without credentials: the full URLs come from the environment (below).
        store: {
          kind: 'postgres-redis',
          postgresUrl: withoutCredentials(options.store.postgresUrl),
          redisUrl: withoutCredentials(options.store.redisUrl),
          keyPrefix: options.store.keyPrefix,
        },
      },
      null,
      2,
    ),
  );
  // Secrets go in the environment, as the broker's configuration reference recommends, never in the
  // file: the operator-issued token other services register with (RFC 7591 §3), the store URLs (they
  // may hold passwords). The demo's own BATON_BROKER_* are left out: its BATON_BROKER_PORT names the
  // load balancer, and the bin would read it as its own.
  const brokerEnvironment = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BATON_BROKER_'))),
    BATON_BROKER_INITIAL_ACCESS_TOKEN: randomBytes(24).toString('base64url'),
    BATON_BROKER_POSTGRES_URL: options.store.postgresUrl,
    BATON_BROKER_REDIS_URL: options.store.redisUrl,
  };
  const children: ChildProcess[] = [];
  const pending = new Set<Promise<void>>();
  const killAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  };
  // Never leave a broker behind when the demo itself ends abruptly.
  process.once('exit', killAll);
  // A signal's default action ends the demo without 'exit' handlers, and the brokers (their own
  // process group) would keep running. So from the first spawn on, SIGINT/SIGTERM kill them — unless
  // another handler is registered too (the demo's shutdown, once the walk-through is done), which
  // stops them gracefully through close().
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const stopHandlingSignals = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const start = (name: string) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, brokerBin(), '--config', configFile], {
        env: brokerEnvironment,
        stdio: ['ignore', 'pipe', 'inherit'],
        // Its own process group: Ctrl-C reaches the demo only, which stops the brokers after draining
        // the load balancer in front of them.
        detached: true,
      });
      children.push(child);
      const logs = options.logs?.(name);
      const audit = options.audit(name);
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), START_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before it was ready`));
      });
      createInterface({ input: child.stdout! }).on('line', (raw) => {
        let line: { msg?: string; url?: string; audit?: AuditEvent };
        try {
          line = JSON.parse(raw);
        } catch {
          return;
        }
        if (line.audit) {
          const written = audit.write(line.audit).catch((error: unknown) => {
            process.stderr.write(
              `baton demo: ${name}'s audit event not stored: ${(error as Error).message}\n`,
            );
          });
          pending.add(written);
          void written.finally(() => pending.delete(written));
          return;
        }
        logs?.write(`${raw}\n`);
        if (line.msg === 'broker ready' && line.url) {
          clearTimeout(timer);
          resolve(line.url);
        }
      });
    });

  try {
    balancer.upstreams = await Promise.all(
      Array.from({ length: options.instances ?? 2 }, (_, index) => start(`broker-${index + 1}`)),
    );
  } catch (error) {
    killAll();
    stopHandlingSignals();
    await balancer.close();
    throw error;
  }
  return {
    issuer: balancer.url,
    ...credentials,
    balancer,
    async close() {
      await balancer.close();
      // SIGTERM: each instance finishes its requests in flight, flushes its log and closes its stores.
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done();
              const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
              child.once('close', () => {
                clearTimeout(timer);
                done();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
      process.off('exit', killAll);
      stopHandlingSignals();
      // The last audit lines an instance wrote before it exited are stored before this resolves.
      await Promise.all(pending);
    },
  };
}
