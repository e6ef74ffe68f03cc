import type { AuditEvent } from '@baton/audit';
import type { Initiator } from './traces.ts';

/** `alice (tenant acme)`, or the sub alone when there is no tenant. */
export function initiatorText(initiator: Initiator): string {
  return initiator.tenant ? `${initiator.sub} (tenant ${initiator.tenant})` : initiator.sub;
}

/**
 * The trace context a caller sent that Baton did not join (it started a fresh trace and kept the
 * caller's as a link). Read defensively: events written before the field existed, or by other
 * writers, have none or something else there.
 */
export function linkedTrace(event: AuditEvent): { trace_id: string; span_id?: string } | undefined {
  const value = (event as { linked_trace?: unknown }).linked_trace;
  if (typeof value !== 'object' || value === null) return undefined;
  const { trace_id: traceId, span_id: spanId } = value as Record<string, unknown>;
  if (typeof traceId !== 'string' || traceId === '') return undefined;
  return { trace_id: traceId, ...(typeof spanId === 'string' ? { span_id: spanId } : {}) };
}
