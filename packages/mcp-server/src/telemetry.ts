import { newSpanId, type TraceContinuation } from '@baton/audit';
import type { Envelope } from '@baton/envelope';
import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';

const tracer = () => trace.getTracer('@baton/mcp-server');

/** A span for one hop, and the W3C ids the audit records for it (the same ids when OpenTelemetry is active). */
export interface HopSpan {
  traceId: string;
  spanId: string;
  span: Span;
  context: Context;
}

/**
 * Starts an OpenTelemetry span for a hop, as a child of the caller's span (from `traceparent`) or of
 * `parent`, or as the root of a fresh trace that links to an untrusted caller's context. Without a
 * registered SDK the API is a no-op; the audit then uses its own span ids, so the audit chain never
 * depends on tracing being configured. A fresh trace takes the SDK's trace id when there is one, so
 * the audit and the tracing backend name the same trace: read the trace id back from the result.
 */
export function startHopSpan(
  name: string,
  kind: 'server' | 'client',
  trace_: TraceContinuation | { parent: HopSpan },
): HopSpan {
  const parentContext =
    'parent' in trace_
      ? trace_.parent.context
      : trace_.parentSpanId
        ? trace.setSpanContext(context.active(), {
            traceId: trace_.traceId,
            spanId: trace_.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
          })
        : // A fresh trace is a root: not a child of whatever span instrumentation made active from
          // the caller's own (untrusted) trace context.
          ROOT_CONTEXT;
  const link = 'parent' in trace_ ? undefined : trace_.link;
  const span = tracer().startSpan(
    name,
    {
      kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT,
      ...(link?.span_id
        ? {
            links: [
              {
                context: {
                  traceId: link.trace_id,
                  spanId: link.span_id,
                  traceFlags: TraceFlags.SAMPLED,
                  isRemote: true,
                },
              },
            ],
          }
        : {}),
    },
    parentContext,
  );
  const spanContext = span.spanContext();
  const root = !('parent' in trace_) && !trace_.parentSpanId;
  // A root span's trace id is the SDK's to choose: adopt it, rather than file the audit elsewhere.
  const traceId =
    'parent' in trace_
      ? trace_.parent.traceId
      : root && isSpanContextValid(spanContext)
        ? spanContext.traceId
        : trace_.traceId;
  // Without an SDK, OpenTelemetry's no-op tracer hands back the parent's own span context: a span id
  // is ours only if it is valid, in this trace, and new.
  const parentSpanId = trace.getSpanContext(parentContext)?.spanId;
  const real =
    isSpanContextValid(spanContext) && spanContext.traceId === traceId && spanContext.spanId !== parentSpanId;
  return {
    traceId,
    spanId: real ? spanContext.spanId : newSpanId(),
    span,
    context: trace.setSpan(parentContext, span),
  };
}

/** Identity attributes for tracing backends: who, which agent, under which delegation. Never a token. */
export function identityAttributes(envelope: Envelope): Record<string, string | string[]> {
  return {
    'enduser.id': envelope.actor.sub,
    'baton.actor.tenant': envelope.actor.tenant ?? '',
    'baton.agent.client_id': envelope.agent.client_id,
    'baton.delegation.mode': envelope.delegation.mode,
    'baton.delegation.chain': [...envelope.delegation.chain],
    'baton.envelope.id': envelope.id,
  };
}

/** Ends a hop span with the audit outcome. */
export function endHopSpan(hop: HopSpan, outcome: 'ok' | 'denied' | 'error', reason?: string): void {
  hop.span.setAttribute('baton.outcome', outcome);
  if (reason) hop.span.setAttribute('baton.reason', reason);
  if (outcome !== 'ok')
    hop.span.setStatus({ code: SpanStatusCode.ERROR, ...(reason ? { message: reason } : {}) });
  hop.span.end();
}
