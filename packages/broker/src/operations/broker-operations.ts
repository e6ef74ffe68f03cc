import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditSink } from '@baton/audit';
import {
  checkReadinessCache,
  createMetricsRegistry,
  type ReadinessCheck,
  type Registry,
} from '@baton/resource-server/operations';
import { BrokerMetrics } from './broker-metrics.ts';
import { withOperations } from './serve.ts';

/** `startBroker({ operations })`: health, readiness and metrics on the broker's own port. */
export interface BrokerOperationsOptions {
  /**
   * Checked by `/readyz` besides the signing keys: the stores' pings (`openStores(…).checks`).
   * `/healthz` answers whenever the process serves.
   */
  readiness?: readonly ReadinessCheck[];
  /** Deadline of one `/readyz` probe. Default 1500 ms. */
  readinessTimeoutMs?: number;
  /** How long one readiness probe answers `/readyz`, ms (concurrent requests share it). Default 1000. */
  readinessCacheMs?: number;
  /** Serve Prometheus metrics at `/metrics` (and count). Default true; false costs nothing per request. */
  metrics?: boolean;
  /** How long `close()` lets requests in flight finish before cutting them. Default 10 000 ms. */
  shutdownDeadlineMs?: number;
}

/** The operations side of one broker instance: its metrics registry, readiness and request wrapper. */
export interface BrokerOperations {
  registry: Registry | undefined;
  metrics: BrokerMetrics | undefined;
  shutdownDeadlineMs: number | undefined;
  audit(sink: AuditSink): AuditSink;
  serve(
    handler: (request: IncomingMessage, response: ServerResponse) => unknown,
  ): (request: IncomingMessage, response: ServerResponse) => void;
}

export function brokerOperations(
  options: BrokerOperationsOptions | undefined,
  signingKeys: readonly unknown[],
): BrokerOperations {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError('startBroker: operations must be an object');
  }
  const registry = options?.metrics === false ? undefined : createMetricsRegistry();
  const metrics = registry ? new BrokerMetrics(registry) : undefined;
  if (options) checkReadinessCache(options);
  const checks: ReadinessCheck[] = [
    {
      name: 'signing_keys',
      check: () => {
        if (signingKeys.length === 0) throw Object.assign(new Error('no signing key'), { code: 'NO_KEYS' });
      },
    },
    ...(options?.readiness ?? []),
  ];
  return {
    registry,
    metrics,
    shutdownDeadlineMs: options?.shutdownDeadlineMs,
    audit: (sink) => (metrics ? metrics.countingSink(sink) : sink),
    serve: (handler) =>
      withOperations(handler, {
        checks,
        ...(registry ? { registry } : {}),
        ...(options?.readinessTimeoutMs ? { readinessTimeoutMs: options.readinessTimeoutMs } : {}),
        ...(options?.readinessCacheMs !== undefined ? { readinessCacheMs: options.readinessCacheMs } : {}),
      }),
  };
}
