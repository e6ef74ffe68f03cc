import type { Registry } from 'prom-client';
import { checkReadiness, type ReadinessCheck } from './readiness.ts';

/** What `/healthz`, `/readyz` and `/metrics` serve, and at which paths. */
export interface OperationsOptions {
  /** What `/readyz` checks. None: ready whenever the process is up. */
  checks?: readonly ReadinessCheck[];
  /** Served at `/metrics` in the Prometheus text format. None: no metrics path. */
  registry?: Registry;
  /** Deadline of one readiness probe. Default 1500 ms. */
  readinessTimeoutMs?: number;
  /**
   * How long one probe's result answers `/readyz`, in ms. Default 1000. Concurrent requests share the
   * probe in flight, so a flood of unauthenticated `/readyz` requests costs the stores one probe per
   * interval, not one per request. 0 probes on every request (still shared while in flight).
   */
  readinessCacheMs?: number;
  /** Default `{ health: '/healthz', ready: '/readyz', metrics: '/metrics' }`. */
  paths?: { health?: string; ready?: string; metrics?: string };
}

/** A runtime-neutral answer, turned into a web `Response` or written to a node response by adapters. */
export interface OperationsAnswer {
  status: number;
  contentType: string;
  body: string;
}

const JSON_TYPE = 'application/json';

/**
 * Answers an operations request, or returns `undefined` when `pathname` is none of its paths (the
 * caller then serves it as usual). Only GET and HEAD; other methods get 405.
 *
 * @example
 * const answer = await answerOperations('GET', new URL(request.url).pathname, { checks, registry });
 */
export async function answerOperations(
  method: string,
  pathname: string,
  options: OperationsOptions,
): Promise<OperationsAnswer | undefined> {
  const paths = {
    health: options.paths?.health ?? '/healthz',
    ready: options.paths?.ready ?? '/readyz',
    metrics: options.paths?.metrics ?? '/metrics',
  };
  const which =
    pathname === paths.health
      ? 'health'
      : pathname === paths.ready
        ? 'ready'
        : pathname === paths.metrics && options.registry
          ? 'metrics'
          : undefined;
  if (!which) return undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    return { status: 405, contentType: JSON_TYPE, body: '{"error":"method_not_allowed"}' };
  }
  if (which === 'health') return { status: 200, contentType: JSON_TYPE, body: '{"status":"ok"}' };
  if (which === 'ready') {
    const report = await sharedProbe(options);
    return {
      status: report.ready ? 200 : 503,
      contentType: JSON_TYPE,
      body: JSON.stringify({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks }),
    };
  }
  const registry = options.registry!;
  return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
}

type ReadinessReport = Awaited<ReturnType<typeof checkReadiness>>;

/** The latest probe per list of checks: shared while in flight, then reused for `readinessCacheMs`. */
const probes = new WeakMap<
  readonly ReadinessCheck[],
  { settledAt: number | undefined; report: Promise<ReadinessReport> }
>();
const NO_CHECKS: readonly ReadinessCheck[] = [];

/** `readinessCacheMs`, checked: a finite number of milliseconds, 0 or more (misuse is a `TypeError`). */
export function checkReadinessCache(options: OperationsOptions): number {
  const maxAge = options.readinessCacheMs ?? 1000;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 0) {
    throw new TypeError('readinessCacheMs must be a finite number of milliseconds, 0 or more');
  }
  return maxAge;
}

function sharedProbe(options: OperationsOptions): Promise<ReadinessReport> {
  const checks = options.checks ?? NO_CHECKS;
  const maxAge = checkReadinessCache(options);
  const latest = probes.get(checks);
  if (latest && (latest.settledAt === undefined || performance.now() - latest.settledAt < maxAge)) {
    return latest.report;
  }
  const probe: { settledAt: number | undefined; report: Promise<ReadinessReport> } = {
    settledAt: undefined,
    report: checkReadiness(checks, {
      ...(options.readinessTimeoutMs ? { timeoutMs: options.readinessTimeoutMs } : {}),
    }),
  };
  probe.report.then(
    () => {
      probe.settledAt = performance.now();
    },
    // A probe that threw (a malformed check) is not reused: the next request probes again.
    () => {
      if (probes.get(checks) === probe) probes.delete(checks);
    },
  );
  probes.set(checks, probe);
  return probe.report;
}

/**
 * A web handler for `/healthz`, `/readyz` and `/metrics`, to mount in a server you own (Hono, a fetch
 * handler): returns `undefined` for any other path.
 *
 * @example
 * const operations = operationsHandler({ checks, registry });
 * export default { fetch: async (request) => (await operations(request)) ?? app.fetch(request) };
 */
export function operationsHandler(
  options: OperationsOptions,
): (request: Request) => Promise<Response | undefined> {
  checkReadinessCache(options);
  return async (request) => {
    const answer = await answerOperations(request.method, new URL(request.url).pathname, options);
    if (!answer) return undefined;
    return new Response(request.method === 'HEAD' ? null : answer.body, {
      status: answer.status,
      headers: { 'content-type': answer.contentType, 'cache-control': 'no-store' },
    });
  };
}
