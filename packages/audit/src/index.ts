export {
  type AuditAction,
  type AuditEvent,
  type AuditEventInput,
  type AuditOutcome,
  auditEvent,
} from './event.ts';
export { createLogger, LogAuditSink, REDACTED_LOG_PATHS } from './log-sink.ts';
export {
  type AuditQuery,
  type AuditReader,
  type AuditSink,
  fanOut,
  MemoryAuditSink,
  matchesQuery,
  selectEvents,
} from './sink.ts';
export { newSpanId, newTraceId, parentSpanIdFrom, traceIdFrom, traceparent } from './trace-context.ts';
