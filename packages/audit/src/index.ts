export {
  type AuditAction,
  type AuditEvent,
  type AuditEventInput,
  type AuditOutcome,
  auditEvent,
  type TraceLink,
} from './event.ts';
export { endHopSpan, type HopSpan, type HopSpanOptions, hopTraceFields, startHopSpan } from './hop-span.ts';
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
export {
  continueTrace,
  newSpanId,
  newTraceId,
  parentSpanIdFrom,
  type TraceContinuation,
  traceIdFrom,
  traceparent,
} from './trace-context.ts';
