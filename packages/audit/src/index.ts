export {
  type AuditAction,
  type AuditEvent,
  type AuditEventInput,
  type AuditOutcome,
  auditEvent,
} from './event.ts';
export { createLogger, LogAuditSink, REDACTED_LOG_PATHS } from './log-sink.ts';
export { type AuditSink, fanOut, MemoryAuditSink } from './sink.ts';
export { newTraceId, traceIdFrom } from './trace-context.ts';
