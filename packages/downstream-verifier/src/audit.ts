import { type AuditReason, type AuditSink, auditEventOf, httpStatusReason } from '@baton/audit';
import type { DownstreamIdentity } from './identity.ts';

/** One audit event for a call this API served, in the trace of the hop before it. */
export async function recordApiCall(
  audit: AuditSink,
  component: string,
  identity: DownstreamIdentity,
  operation: string,
  status: number,
  started: number,
  /** Why it was refused, when more is known than the status (a revocation). */
  reason?: AuditReason,
): Promise<void> {
  await audit.write(
    auditEventOf(
      {
        actor: { sub: identity.user, tenant: identity.tenant },
        agent: identity.agent,
        scopes: identity.scopes,
        delegation: { mode: identity.mode, chain: identity.chain },
      },
      {
        action: 'api.call',
        component,
        target: { type: 'api', name: operation },
        outcome: status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'error',
        reason: reason ?? (status >= 400 ? httpStatusReason(status) : undefined),
        started,
        trace: {
          traceId: identity.traceId,
          spanId: identity.spanId,
          ...(identity.parentSpanId ? { parentSpanId: identity.parentSpanId } : {}),
          ...(identity.linkedTrace ? { link: identity.linkedTrace } : {}),
        },
      },
    ),
  );
}
