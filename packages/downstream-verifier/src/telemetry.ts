import {
  carriesTraceContext,
  continueTrace,
  endHopSpan,
  startHopSpan,
  type TraceContinuation,
} from '@baton/audit';
import { BearerError } from '@baton/resource-server';
import type { DownstreamIdentity } from './identity.ts';

/** OpenTelemetry's instrumentation scope for the verifier's spans. */
const TRACER = '@baton/downstream-verifier';

/**
 * The span of a verified call, and the identity with its ids: the trace the call joined (or the SDK's
 * fresh one) and the span id its audit event records (`recordApiCall` writes `identity.spanId`). The
 * span covers the verification; it names who the call is for and under which delegation, never a token.
 *
 * One case keeps two trace ids: a service-identity call whose `traceparent` is not in its envelope's
 * trace. The audit stays in the envelope's (signed) trace; OpenTelemetry cannot start a span in a
 * given trace without a parent span, so the span starts a fresh trace and names the audit's trace in
 * `baton.audit.trace_id`.
 *
 * `headers` are the request's: the span joins a span the host made active (its HTTP server span) only
 * when they carry no trace context any registered propagator reads (see `hostSpanIsOurs`).
 */
export function recordVerifiedCall(
  audience: string,
  identity: Omit<DownstreamIdentity, 'spanId'>,
  startTime: number,
  headers?: Headers,
): DownstreamIdentity {
  const joined = identity.parentSpanId !== undefined;
  const fixedTrace = !joined && identity.mode === 'service_identity';
  const trace: TraceContinuation = {
    traceId: identity.traceId,
    ...(identity.parentSpanId !== undefined ? { parentSpanId: identity.parentSpanId } : {}),
    ...(identity.linkedTrace ? { link: identity.linkedTrace } : {}),
  };
  const hop = startHopSpan(TRACER, 'verify', 'server', trace, {
    startTime,
    // No trace context from the caller at all: a span the host made active (its HTTP server span) is ours.
    joinActive: !joined && !fixedTrace && identity.linkedTrace === undefined && hostSpanIsOurs(headers),
  });
  if (hop.span.isRecording())
    hop.span.setAttributes({
      'enduser.id': identity.user,
      'baton.actor.tenant': identity.tenant ?? '',
      'baton.agent.client_id': identity.agent,
      'baton.delegation.mode': identity.mode,
      'baton.delegation.chain': [...identity.chain],
      'baton.audience': audience,
      ...(fixedTrace ? { 'baton.audit.trace_id': identity.traceId } : {}),
    });
  endHopSpan(hop, 'ok');
  return {
    ...identity,
    traceId: fixedTrace ? identity.traceId : hop.traceId,
    spanId: hop.spanId,
  };
}

/**
 * The span of a refused call: status error, the refusal's reason code. Nobody was authenticated, so
 * its trace is fresh and only links to what the caller sent.
 */
export function recordRefusedCall(
  audience: string,
  incomingTraceparent: string | null,
  error: unknown,
  startTime: number,
  headers?: Headers,
): void {
  const hop = startHopSpan(TRACER, 'verify', 'server', continueTrace(incomingTraceparent, false), {
    startTime,
    joinActive: hostSpanIsOurs(headers),
  });
  if (hop.span.isRecording())
    hop.span.setAttributes({
      'baton.audience': audience,
      ...(error instanceof BearerError ? { 'http.response.status_code': error.status } : {}),
    });
  if (error instanceof BearerError) endHopSpan(hop, error.status < 500 ? 'denied' : 'error', error.reason);
  else endHopSpan(hop, 'error', 'internal_error');
}

/**
 * Whether a span the host made active is the verifier's to join: only when the request carried no
 * trace context at all, neither `traceparent` nor a header the registered propagator reads (`b3`,
 * `uber-trace-id`, ...), since the host's HTTP instrumentation would have put its span in that
 * caller-chosen trace. Without the headers nobody can tell, so the span is a root.
 */
function hostSpanIsOurs(headers: Headers | undefined): boolean {
  return headers !== undefined && !carriesTraceContext((header) => headers.get(header));
}
