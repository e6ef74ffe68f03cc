/**
 * Operating a Baton component: `/healthz`, `/readyz` and Prometheus `/metrics` (one registry per
 * component instance), and graceful shutdown for the bins.
 */
export { AUDIT_OUTBOX_SERIES, type AuditOutboxSource, auditOutboxMetrics } from './audit-outbox.ts';
export {
  answerOperations,
  checkReadinessCache,
  type OperationsAnswer,
  type OperationsOptions,
  operationsHandler,
} from './endpoints.ts';
export {
  BoundedLabel,
  Counter,
  createMetricsRegistry,
  Gauge,
  Histogram,
  Registry,
  secondsSince,
} from './metrics.ts';
export { serveOperations } from './node.ts';
export {
  checkReadiness,
  DEFAULT_READINESS_TIMEOUT_MS,
  type ReadinessCheck,
  type ReadinessReport,
  type ReadinessResult,
} from './readiness.ts';
export {
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  drainServer,
  onShutdownSignal,
  type ShutdownLogger,
  type ShutdownStep,
} from './shutdown.ts';
