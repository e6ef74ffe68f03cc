import { randomUUID } from 'node:crypto';

/** What happened, in the vocabulary every component shares. */
export type AuditAction = 'tool.invoke' | 'token.exchange' | 'api.call';
export type AuditOutcome = 'ok' | 'denied' | 'error';

/**
 * One audit event. The same shape for every hop (MCP boundary, broker, downstream API), so one
 * trace can be read as one chain. It has no field that could hold a token, secret or signature.
 */
export interface AuditEvent {
  id: string;
  /** RFC 3339 time the action finished. */
  time: string;
  action: AuditAction;
  /** The component that recorded it, e.g. the MCP server's resource URI. */
  component: string;
  trace_id: string;
  /** Who initiated: the person (or service) the action was for. */
  initiator: { sub: string; tenant: string | null };
  /** Who executed: the agent (OAuth client) acting for the initiator. */
  agent: { id: string; client_id: string };
  /** What was acted on. */
  target: { type: 'tool' | 'api' | 'audience'; name: string };
  delegation_mode: string;
  scopes: readonly string[];
  outcome: AuditOutcome;
  /** A stable reason code when the outcome is not `ok` (e.g. `scope_insufficient`, `tool_threw`). */
  reason?: string;
  duration_ms: number;
  /** The envelope the action ran under, by id (never the signed envelope itself). */
  envelope_id?: string;
  /** Actors between the person and the target, current (outermost) first, agent last. */
  chain?: readonly string[];
  /**
   * How many parties stand between the person and this action: 1 when the agent acts directly, one
   * more for every service in the chain. Derived from `chain` when not given.
   */
  hop?: number;
  /** This event's W3C span id (16 hex): what the next hop names as its parent. */
  span_id?: string;
  /** The span id of the hop that caused this event (from the incoming `traceparent`), when there was one. */
  parent_span_id?: string;
  /** What was asked for, when it differs from what was granted (`scopes`). */
  scopes_requested?: readonly string[];
  /**
   * The trace context an untrusted caller sent, kept as a link (W3C Trace Context / OpenTelemetry span
   * link) instead of being joined: the event lives in a fresh trace of its own, so a caller cannot file
   * its actions under somebody else's trace. See `continueTrace`.
   */
  linked_trace?: TraceLink;
}

/** Another trace's context, recorded but not joined. */
export interface TraceLink {
  trace_id: string;
  span_id?: string;
}

export type AuditEventInput = Omit<AuditEvent, 'id' | 'time'>;

/** Stamps an id and time on an event. */
export function auditEvent(input: AuditEventInput): AuditEvent {
  // Spelled out rather than spread: one fixed shape per event keeps the hot path monomorphic.
  return {
    id: randomUUID(),
    time: new Date().toISOString(),
    action: input.action,
    component: input.component,
    trace_id: input.trace_id,
    initiator: input.initiator,
    agent: input.agent,
    target: input.target,
    delegation_mode: input.delegation_mode,
    scopes: input.scopes,
    outcome: input.outcome,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    duration_ms: input.duration_ms,
    ...(input.envelope_id !== undefined ? { envelope_id: input.envelope_id } : {}),
    ...(input.chain !== undefined ? { chain: input.chain } : {}),
    ...(input.hop !== undefined || input.chain !== undefined
      ? { hop: input.hop ?? input.chain!.length }
      : {}),
    ...(input.scopes_requested !== undefined ? { scopes_requested: input.scopes_requested } : {}),
    ...(input.span_id !== undefined ? { span_id: input.span_id } : {}),
    ...(input.parent_span_id !== undefined ? { parent_span_id: input.parent_span_id } : {}),
    ...(input.linked_trace !== undefined ? { linked_trace: input.linked_trace } : {}),
  };
}
