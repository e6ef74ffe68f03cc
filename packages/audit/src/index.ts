export {
  type AuditAction,
  type AuditEvent,
  type AuditEventFields,
  type AuditEventInput,
  type AuditIdentity,
  type AuditMode,
  type AuditOutcome,
  auditEvent,
  auditEventOf,
  type Confirmation,
  type DlpRecord,
  type RevocationDetail,
  type TraceLink,
} from './event.ts';
export {
  carriesTraceContext,
  endHopSpan,
  type HopSpan,
  type HopSpanOptions,
  hopTraceFields,
  startHopSpan,
} from './hop-span.ts';
export { createLogger, LogAuditSink, REDACTED_LOG_PATHS } from './log-sink.ts';
export {
  AUDIT_REASONS,
  type AuditReason,
  brokerRefusalReason,
  type DownstreamCallReason,
  type HttpStatusReason,
  httpStatusReason,
  type InputTokenReason,
  isAuditReason,
  type PlatformRevocationReason,
  type TokenRequestReason,
} from './reason.ts';
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
