import {
  type AuditAction,
  type AuditOutcome,
  type AuditReason,
  auditEventOf,
  continueTrace,
  type DlpRecord,
  type TraceContinuation,
  traceIdFrom,
} from '@baton/audit';
import type { Envelope, MintedEnvelope } from '@baton/envelope';
import type { OpenedRequest } from './request-context.ts';
import { endHopSpan, type HopSpan, startHopSpan } from './telemetry.ts';

/**
 * What a person reaches through an MCP server: a tool called, a resource read or a prompt got. Each
 * call of one the boundary registered is spanned, audited and given an envelope the same way.
 */
export type SurfaceKind = 'tool' | 'resource' | 'prompt';

/** One item of the surface: its kind and its registered name (a resource's or template's name, not its URI). */
export interface SurfaceItem {
  readonly kind: SurfaceKind;
  readonly name: string;
}

/** The MCP method that uses an item of each kind. */
export const SURFACE_METHOD = {
  tool: 'tools/call',
  resource: 'resources/read',
  prompt: 'prompts/get',
} as const satisfies Record<SurfaceKind, string>;

/** The audit action of a use of each kind. */
export const SURFACE_ACTION = {
  tool: 'tool.invoke',
  resource: 'resource.read',
  prompt: 'prompt.get',
} as const satisfies Record<SurfaceKind, AuditAction>;

/**
 * The span of one call, named and attributed as OpenTelemetry's MCP semantic conventions ask
 * (`tools/call {tool}`, `mcp.method.name`, `gen_ai.tool.name`), in the trace the call is filed under.
 * @internal not exported from the package.
 */
export function startSurfaceSpan(
  opened: OpenedRequest,
  item: SurfaceItem,
  metaTraceparent: unknown,
): HopSpan {
  const method = SURFACE_METHOD[item.kind];
  const hop = startHopSpan(`${method} ${item.name}`, 'server', traceOf(opened, metaTraceparent), {
    // With no trace context from the caller, a span the host made active (its HTTP server span) is ours.
    joinActive: !opened.sentTraceContext,
  });
  if (hop.span.isRecording()) {
    hop.span.setAttributes({
      'mcp.method.name': method,
      ...(item.kind === 'tool'
        ? { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': item.name }
        : item.kind === 'prompt'
          ? { 'gen_ai.prompt.name': item.name }
          : { 'baton.resource.name': item.name }),
    });
  }
  return hop;
}

/**
 * The trace a call is filed under. The call's `_meta.traceparent` (what Baton's own downstream client
 * sends) is preferred over the HTTP header; either is joined only when the caller is trusted to
 * continue a trace (see `BoundaryRequestContext.traceTrusted`), otherwise kept as a link.
 */
function traceOf(opened: OpenedRequest, metaTraceparent: unknown): TraceContinuation {
  const incoming = traceIdFrom(metaTraceparent) ? metaTraceparent : opened.traceparent;
  return continueTrace(incoming, opened.traceTrusted);
}

/**
 * What a tool call's record adds: the policy rules that decided and the approval it asked for or ran
 * under; what data loss prevention found in its result (detectors and counts only).
 */
export interface SurfaceEventExtra {
  policyRules?: readonly string[];
  approvalId?: string;
  dlp?: DlpRecord;
}

/**
 * Writes the one audit event of a call (`tool.invoke`, `resource.read`, `prompt.get`). A failed write
 * fails the call: it is logged without the event's content and rethrown as a refusal.
 * @internal not exported from the package.
 */
export async function recordSurfaceEvent(
  opened: OpenedRequest,
  item: SurfaceItem,
  outcome: AuditOutcome,
  started: number,
  reason: AuditReason | undefined,
  envelope: Envelope | undefined,
  hop: HopSpan,
  extra: SurfaceEventExtra = {},
): Promise<void> {
  const { identity, settings } = opened;
  const event = auditEventOf(identity, {
    action: SURFACE_ACTION[item.kind],
    component: settings.component,
    target: { type: item.kind, name: item.name },
    // The mode this server's tools reach onwards in, as its envelopes say.
    mode: settings.delegation.mode,
    outcome,
    reason,
    started,
    ...(envelope ? { envelopeId: envelope.id } : {}),
    trace: hop,
    ...extra,
  });
  try {
    await settings.audit.write(event);
  } catch (error) {
    // Never a silent drop: the call fails closed and the failure is logged without the event's secrets (it has none).
    settings.logger.error(
      { audit_event_id: event.id, err_name: (error as Error)?.name },
      'audit write failed',
    );
    throw new Error('the audit record could not be written; the call is refused');
  }
}

/**
 * Audits a call refused before dispatch for want of scope (the step-up challenge), filed under the
 * call's trace as its wrapper would file it.
 * @internal not exported from the package.
 */
export async function recordSurfaceStepUpDenial(
  opened: OpenedRequest,
  item: SurfaceItem,
  meta: Record<string, unknown> | undefined,
  reason: 'scope_insufficient' | 'rate_limited' = 'scope_insufficient',
): Promise<void> {
  await recordSurfaceDenial(
    opened,
    item,
    performance.now(),
    startSurfaceSpan(opened, item, meta?.traceparent),
    reason,
  );
}

/**
 * Audits a call refused at `hop` (`denied`, with its reason) and ends the hop's span, even when the
 * audit write fails (which then fails the call).
 * @internal not exported from the package.
 */
export async function recordSurfaceDenial(
  opened: OpenedRequest,
  item: SurfaceItem,
  started: number,
  hop: HopSpan,
  reason: AuditReason,
  extra?: SurfaceEventExtra,
): Promise<void> {
  try {
    await recordSurfaceEvent(opened, item, 'denied', started, reason, undefined, hop, extra);
  } finally {
    endHopSpan(hop, 'denied', reason);
  }
}

/**
 * Mints the call's envelope: the body was derived and validated when the boundary accepted the token;
 * it is minted here under this call's trace. A failed mint (the boundary refuses claims that cannot
 * form an envelope, so this is the backstop) is still audited and its span still ends, then rethrown.
 * @internal not exported from the package.
 */
export async function mintEnvelopeFor(
  opened: OpenedRequest,
  item: SurfaceItem,
  started: number,
  hop: HopSpan,
): Promise<MintedEnvelope> {
  try {
    return opened.settings.envelopes.mint(opened.envelopeBody, { traceId: hop.traceId });
  } catch (error) {
    endHopSpan(hop, 'error', 'claims_invalid');
    await recordSurfaceEvent(opened, item, 'error', started, 'claims_invalid', undefined, hop);
    throw error;
  }
}
