import {
  carriesTraceContext,
  continueTrace,
  endHopSpan,
  type HopSpan,
  type HopSpanOptions,
  startHopSpan as startSpan,
  type TraceContinuation,
} from '@baton/audit';
import type { Envelope } from '@baton/envelope';

export { endHopSpan, type HopSpan };

/** OpenTelemetry's instrumentation scope for the boundary's spans. */
const TRACER = '@baton/mcp-server';

/**
 * Starts an OpenTelemetry span for a hop of this MCP server (see `@baton/audit`'s `startHopSpan`):
 * a child of the caller's span (a joined `traceparent`) or of `parent`, or the root of a fresh trace
 * that links to an untrusted caller's context. Read the trace and span ids back from the result: they
 * are what the audit records.
 *
 * @example
 * const hop = startHopSpan('tools/call list_orders', 'server', continueTrace(traceparent, trusted));
 */
export function startHopSpan(
  name: string,
  kind: 'server' | 'client',
  trace: TraceContinuation | { parent: HopSpan },
  options?: HopSpanOptions,
): HopSpan {
  return startSpan(TRACER, name, kind, trace, options);
}

/**
 * Identity attributes for tracing backends: who, which agent, under which delegation. Never a token.
 * `mode` is the delegation mode the hop's audit event records, when it is not the envelope's (a
 * downstream call records the mode it used to reach the service).
 */
export function identityAttributes(
  envelope: Envelope,
  mode: string = envelope.delegation.mode,
): Record<string, string | string[]> {
  return {
    'enduser.id': envelope.actor.sub,
    'baton.actor.tenant': envelope.actor.tenant ?? '',
    'baton.agent.client_id': envelope.agent.client_id,
    'baton.delegation.mode': mode,
    'baton.delegation.chain': [...envelope.delegation.chain],
    'baton.envelope.id': envelope.id,
  };
}

/**
 * Records the span of a request the boundary refused before any tool ran (no or an invalid token: no
 * audit event, since nobody was authenticated). Its trace is always fresh, linked to what the caller
 * sent: an unauthenticated caller chooses no trace. `reason` is the refusal's stable reason code.
 */
export function recordRefusalSpan(
  headers: Headers,
  status: number,
  reason: string,
  outcome: 'denied' | 'error',
): void {
  const hop = startHopSpan('authenticate', 'server', continueTrace(headers.get('traceparent'), false), {
    // A span the host made active is the boundary's own only when the caller sent no trace context.
    joinActive: !carriesTraceContext((header) => headers.get(header)),
  });
  if (hop.span.isRecording()) hop.span.setAttribute('http.response.status_code', status);
  endHopSpan(hop, outcome, reason);
}
