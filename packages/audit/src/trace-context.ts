import { randomBytes, randomUUID } from 'node:crypto';

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

/** A fresh 8-byte span id. */
export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

/** A `traceparent` header value for a call made from span `spanId` of trace `traceId` (sampled). */
export function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}
