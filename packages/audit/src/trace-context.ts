import { randomBytes, randomUUID } from 'node:crypto';
import type { TraceLink } from './event.ts';

/** W3C Trace Context `traceparent`: version-traceid-parentid-flags. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The trace id of a valid `traceparent`, or `undefined` (invalid values are ignored, per the spec). */
export function traceIdFrom(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (!match || match[1] === 'ff') return undefined;
  const traceId = match[2]!;
  return /^0+$/.test(traceId) || /^0+$/.test(match[3]!) ? undefined : traceId;
}

/** A fresh trace id: 122 random bits from a v4 UUID (which Node draws from a pre-filled entropy cache). */
export function newTraceId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The parent span id of a valid `traceparent` (the hop that called), or `undefined`. */
export function parentSpanIdFrom(traceparent: unknown): string | undefined {
  if (traceIdFrom(traceparent) === undefined) return undefined;
  return (traceparent as string).trim().split('-')[2];
}

/** Span ids drawn from the CSPRNG 512 at a time: one `randomBytes` call per id cost more than the rest of the span. */
const SPAN_ID_POOL_BYTES = 8 * 512;
let spanIdPool = Buffer.alloc(0);
let spanIdOffset = 0;

/** A fresh 8-byte span id (from a pre-filled pool of random bytes, each byte handed out once, like `randomUUID`'s). */
export function newSpanId(): string {
  if (spanIdOffset === spanIdPool.length) {
    spanIdPool = randomBytes(SPAN_ID_POOL_BYTES);
    spanIdOffset = 0;
  }
  const id = spanIdPool.toString('hex', spanIdOffset, spanIdOffset + 8);
  spanIdOffset += 8;
  return id;
}

/** A `traceparent` header value for a call made from span `spanId` of trace `traceId` (sampled). */
export function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

/** Where an incoming request's events go: the caller's trace, or a fresh one that links to it. */
export interface TraceContinuation {
  traceId: string;
  /** The calling hop's span, when its trace was joined. */
  parentSpanId?: string;
  /** The caller's trace context, when it was valid but not trusted enough to join. */
  link?: TraceLink;
}

/**
 * Decides whether an incoming `traceparent` is joined. A trace id is only a correlation handle, but
 * the audit chain and the console read "same trace" as "same request chain": a caller who could pick
 * the trace id could file its actions under another person's trace. So only a caller the receiver
 * authenticated as an upstream Baton hop (or the operator marked trusted) continues its trace; anyone
 * else starts a fresh trace, and its context is kept as a link, never lost and never joined.
 *
 * @example
 * const trace = continueTrace(request.headers.get('traceparent'), delegation.services.length > 0);
 * auditEvent({ trace_id: trace.traceId, parent_span_id: trace.parentSpanId, linked_trace: trace.link, ... })
 */
export function continueTrace(incoming: unknown, trusted: boolean): TraceContinuation {
  const traceId = traceIdFrom(incoming);
  if (traceId === undefined) return { traceId: newTraceId() };
  const spanId = (incoming as string).trim().split('-')[2]!;
  if (trusted) return { traceId, parentSpanId: spanId };
  return { traceId: newTraceId(), link: { trace_id: traceId, span_id: spanId } };
}
