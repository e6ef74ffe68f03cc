import { type AuditSink, auditEvent } from '@baton/audit';
import type { DownstreamIdentity } from './identity.ts';

/** One audit event for a call this API served, in the trace of the hop before it. */
export async function recordApiCall(
  audit: AuditSink,
  component: string,
  identity: DownstreamIdentity,
  operation: string,
  status: number,
  started: number,
): Promise<void> {
  await audit.write(
    auditEvent({
      action: 'api.call',
      component,
      trace_id: identity.traceId,
      initiator: { sub: identity.user, tenant: identity.tenant },
      agent: { id: identity.agent, client_id: identity.agent },
      target: { type: 'api', name: operation },
      delegation_mode: identity.mode,
      scopes: identity.scopes,
      outcome: status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'error',
      ...(status >= 400 ? { reason: `http_${status}` } : {}),
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      chain: identity.chain,
      span_id: identity.spanId,
      ...(identity.parentSpanId ? { parent_span_id: identity.parentSpanId } : {}),
      ...(identity.linkedTrace ? { linked_trace: identity.linkedTrace } : {}),
    }),
  );
}
