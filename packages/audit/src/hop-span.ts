import {
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TimeInput,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { AuditOutcome, TraceLink } from './event.ts';
import { newSpanId, type TraceContinuation } from './trace-context.ts';

/**
 * One hop as OpenTelemetry and the audit both record it: the span, and the W3C ids its audit event
 * carries. With a tracing SDK registered they are the span's own ids; without one they are Baton's,
 * so the audit chain never depends on tracing being configured.
 */
export interface HopSpan {
  traceId: string;
  spanId: string;
  /** The span this hop is a child of, when it has one: the calling hop's, or the host's active span. */
  parentSpanId?: string;
  /** An untrusted caller's trace context, recorded as a span link and never joined. */
  link?: TraceLink;
  span: Span;
  /** The context with this hop's span active: run the hop's work in it (`context.with`). */
  context: Context;
}

export interface HopSpanOptions {
  /** Start time, when the hop began before its trace could be decided (e.g. before client authentication). */
  startTime?: TimeInput;
  /**
   * For a fresh trace: whether the span may be a child of the host's active span (the host's own HTTP
   * server span, say). Only when the caller sent no trace context at all (`!carriesTraceContext(...)`),
   * so that the active span's trace is the host's choice, not the caller's. Default false: a fresh
   * trace is a root.
   */
  joinActive?: boolean;
}

/**
 * Whether a request carries trace context that some propagator reads: a `traceparent`, or any header
 * the globally registered propagator names (`propagation.fields()`: `b3`, `uber-trace-id`,
 * `X-Amzn-Trace-Id`, ...). With one present, a host's HTTP instrumentation made the caller's trace
 * active, so the active span is not the host's own and a hop must not join it (`joinActive`).
 *
 * @example
 * startHopSpan(tracer, name, 'server', trace, { joinActive: !carriesTraceContext((h) => request.headers.get(h)) });
 */
export function carriesTraceContext(header: (name: string) => string | null | undefined): boolean {
  if (header('traceparent') != null) return true;
  if (propagation.fields().some((field) => header(field) != null)) return true;
  // A propagator may read more than it names: B3's default `fields()` is `['b3']`, yet it extracts
  // the multi-header `X-B3-TraceId`/`X-B3-SpanId` too. What it extracts decides, not what it lists.
  const extracted = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, header, HEADER_GETTER));
  return extracted !== undefined && isSpanContextValid(extracted);
}

/** Reads a carrier given as a header lookup function, case-insensitively as HTTP headers are. */
const HEADER_GETTER: TextMapGetter<(name: string) => string | null | undefined> = {
  get: (carrier, key) => carrier(key.toLowerCase()) ?? undefined,
  keys: () => [],
};

/**
 * Starts the span of one hop: a child of the calling hop (a joined `traceparent`) or of `parent`, or
 * the root of a fresh trace that links to an untrusted caller's context. A fresh trace takes the SDK's
 * trace id when there is one, so read the ids back from the result and write those into the audit
 * event (`hopTraceFields`): the audit and the tracing backend then name the same trace and span.
 *
 * @example
 * const hop = startHopSpan('@baton/broker', 'POST /token', 'server', continueTrace(traceparent, trusted));
 * await audit.write(auditEvent({ ...hopTraceFields(hop), action: 'token.exchange', ... }));
 * endHopSpan(hop, 'ok');
 */
export function startHopSpan(
  tracerName: string,
  name: string,
  kind: 'server' | 'client',
  from: TraceContinuation | { parent: HopSpan },
  options: HopSpanOptions = {},
): HopSpan {
  const joined = 'parent' in from || from.parentSpanId !== undefined;
  const parentContext =
    'parent' in from
      ? from.parent.context
      : from.parentSpanId
        ? trace.setSpanContext(context.active(), {
            traceId: from.traceId,
            spanId: from.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
          })
        : // A fresh trace: not a child of whatever instrumentation made active from an untrusted caller's
          // trace context, unless the caller sent none (then the active span is the host's own).
          options.joinActive
          ? context.active()
          : ROOT_CONTEXT;
  const link = 'parent' in from ? undefined : from.link;
  const links: Link[] = [];
  if (link?.span_id) {
    links.push({
      context: {
        traceId: link.trace_id,
        spanId: link.span_id,
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      },
    });
  }
  // A root that does not join the host's active span (it may be in a trace the caller chose) links to it,
  // so the tracing backend can still go from the host's request to this hop.
  const active = parentContext === ROOT_CONTEXT ? trace.getSpanContext(context.active()) : undefined;
  if (active !== undefined && isSpanContextValid(active)) links.push({ context: active });
  const span = trace.getTracer(tracerName).startSpan(
    name,
    {
      kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT,
      ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
      ...(links.length > 0 ? { links } : {}),
    },
    parentContext,
  );
  const spanContext = span.spanContext();
  const parentSpan = trace.getSpanContext(parentContext);
  const ambient = !joined && parentSpan !== undefined && isSpanContextValid(parentSpan);
  // A fresh trace's id is the SDK's to choose (or the host's active span's): adopt it, rather than
  // file the audit elsewhere.
  const traceId =
    'parent' in from
      ? from.parent.traceId
      : joined
        ? from.traceId
        : ambient
          ? parentSpan.traceId
          : isSpanContextValid(spanContext)
            ? spanContext.traceId
            : from.traceId;
  // Without an SDK, OpenTelemetry's no-op tracer hands back the parent's own span context: a span id
  // is ours only if it is valid, in this trace, and new.
  const real =
    isSpanContextValid(spanContext) &&
    spanContext.traceId === traceId &&
    spanContext.spanId !== parentSpan?.spanId;
  const parentSpanId =
    'parent' in from
      ? from.parent.spanId
      : joined
        ? from.parentSpanId
        : ambient
          ? parentSpan.spanId
          : undefined;
  return {
    traceId,
    spanId: real ? spanContext.spanId : newSpanId(),
    ...(parentSpanId !== undefined ? { parentSpanId } : {}),
    ...(link ? { link } : {}),
    span,
    context: trace.setSpan(parentContext, span),
  };
}

/** The audit event's trace fields for a hop: the same trace id, span id, parent and link as its span. */
export function hopTraceFields(hop: HopSpan): {
  trace_id: string;
  span_id: string;
  parent_span_id?: string;
  linked_trace?: TraceLink;
} {
  return {
    trace_id: hop.traceId,
    span_id: hop.spanId,
    ...(hop.parentSpanId !== undefined ? { parent_span_id: hop.parentSpanId } : {}),
    ...(hop.link ? { linked_trace: hop.link } : {}),
  };
}

/**
 * Ends a hop span with its audit outcome: `baton.outcome`, and for a refusal or failure the audit's
 * reason code as `baton.reason` and `error.type` (OpenTelemetry's error attribute), status error.
 */
export function endHopSpan(hop: HopSpan, outcome: AuditOutcome, reason?: string, endTime?: TimeInput): void {
  hop.span.setAttribute('baton.outcome', outcome);
  if (reason) hop.span.setAttribute('baton.reason', reason);
  if (outcome !== 'ok') {
    hop.span.setAttribute('error.type', reason ?? outcome);
    hop.span.setStatus({ code: SpanStatusCode.ERROR, ...(reason ? { message: reason } : {}) });
  }
  hop.span.end(endTime);
}
