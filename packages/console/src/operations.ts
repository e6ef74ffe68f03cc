import {
  BoundedLabel,
  Counter,
  createMetricsRegistry,
  Histogram,
  operationsHandler,
  type ReadinessCheck,
  type Registry,
  secondsSince,
} from '@baton/resource-server/operations';
import type { Console } from './console.ts';

/** `startConsole({ readiness, metrics })`: health, readiness and metrics on the console's port. */
export interface ConsoleOperationsOptions {
  /** What `/readyz` checks, e.g. the audit store's PostgreSQL pool. None: ready while it serves. */
  readiness?: readonly ReadinessCheck[];
  /** Serve Prometheus metrics at `/metrics`. Default true; false also stops counting. */
  metrics?: boolean;
}

/** The series the console exports; documented in the console README. */
export const CONSOLE_SERIES = [
  'baton_console_requests_total',
  'baton_console_request_duration_seconds',
] as const;

/** The console's pages by kind: a bounded label, never a trace id or a query. */
function routeOf(pathname: string): string {
  if (pathname === '/') return 'index';
  if (pathname.startsWith('/traces/')) return 'trace';
  if (pathname.startsWith('/api/')) return 'api';
  if (pathname.startsWith('/auth/')) return 'auth';
  return 'other';
}

/**
 * Puts `/healthz`, `/readyz` and (unless `metrics: false`) `/metrics` in front of the console, and
 * counts its answers by page kind and status. These paths answer before the console's Host check and
 * sign-in: they tell nothing about the audit trail.
 */
export function withConsoleOperations(
  app: Console,
  options: ConsoleOperationsOptions,
): { app: Console; registry: Registry | undefined } {
  const registry = options.metrics === false ? undefined : createMetricsRegistry();
  const operations = operationsHandler({
    checks: options.readiness ?? [],
    ...(registry ? { registry } : {}),
  });
  if (!registry) {
    return { app: { fetch: async (request) => (await operations(request)) ?? app.fetch(request) }, registry };
  }
  const status = new BoundedLabel([], 32);
  const requests = new Counter({
    name: 'baton_console_requests_total',
    help: 'Console requests answered, by page kind (index, trace, api, auth, other) and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'baton_console_request_duration_seconds',
    help: 'Console answer time by page kind',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    app: {
      fetch: async (request) => {
        const operational = await operations(request);
        if (operational) return operational;
        const start = performance.now();
        const route = routeOf(new URL(request.url).pathname);
        const response = await app.fetch(request);
        requests.inc({ route, status: status.of(String(response.status)) });
        duration.observe({ route }, secondsSince(start));
        return response;
      },
    },
  };
}
