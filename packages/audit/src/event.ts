import { randomUUID } from 'node:crypto';
import type { DelegationMode } from '@baton/core';
import type { AuditReason } from './reason.ts';

/**
 * What happened, in the vocabulary every component shares. The MCP boundary records `tool.invoke`,
 * `resource.read` and `prompt.get`, one per call of an identity tool, resource or prompt, and
 * `tool.approve` when a person approves or denies a tool call on its approval page; the broker
 * `token.exchange`, `revocation` and `revocation.lift`.
 */
export type AuditAction =
  | 'tool.invoke'
  | 'tool.approve'
  | 'resource.read'
  | 'prompt.get'
  | 'token.exchange'
  | 'api.call'
  | 'revocation'
  | 'revocation.lift';
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
  /**
   * Who the initiator acts as on a downstream platform, when a connector mapped the person to a
   * platform user (for Salesforce: the username): the platform identity, never a token. Recorded by
   * the broker's `token.exchange` for a platform token.
   */
  platform_subject?: string;
  /** What was acted on. */
  target: { type: 'tool' | 'resource' | 'prompt' | 'api' | 'audience' | 'revocation'; name: string };
  /** The delegation mode (see {@link AuditMode}). */
  delegation_mode: string;
  scopes: readonly string[];
  outcome: AuditOutcome;
  /**
   * A stable reason code when the outcome is not `ok` (e.g. `scope_insufficient`, `tool_threw`): an
   * {@link AuditReason} in every event Baton writes. A stored event is still text to its reader.
   */
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
  /** A `revocation` or `revocation.lift`: what it named and covered (its target is `<kind>:<value>`). */
  revocation?: RevocationDetail;
  /** The policy rules (`@id`) that decided: the forbids behind a denial, the permits asking for approval. */
  policy_rules?: readonly string[];
  /** The human approval a call asked for or ran under (`tool.approve`, `tool.invoke`), by id. */
  approval_id?: string;
  /**
   * Data loss prevention on the result (`@baton/mcp-server`): the action taken and how many findings
   * each detector made. Detector names and counts only: never a found value, nor where it was.
   */
  dlp?: DlpRecord;
  /**
   * The sender constraint (RFC 7800 confirmation) of the token the action issued or ran under: the
   * DPoP key's thumbprint (`jkt`, RFC 9449) and/or the client certificate's (`x5t#S256`, RFC 8705).
   * Absent for a bearer token.
   */
  cnf?: Confirmation;
  /** The workload identity (SPIFFE ID) of the client certificate the acting service was verified by. */
  workload_id?: string;
}

/** A token's `cnf` claim as Baton binds tokens: thumbprints only, never a key or certificate. */
export interface Confirmation {
  jkt?: string;
  'x5t#S256'?: string;
}

/**
 * What a revocation event records beside who (`initiator`, `agent`: the operator, `scim:<client>` or
 * `ssf:<issuer>`) and what (`target.name`, `<kind>:<value>`; a `jti` at most, never a token).
 */
export interface RevocationDetail {
  /** `jti`, `root`, `subject`, `session` or `client`. */
  kind: string;
  /** How many unexpired broker-issued tokens it covered when written (absent for a lift). */
  covered?: number;
  /** A subject's cut-off (Unix seconds): tokens issued before it. Absent: all (disabled). */
  before?: number;
  /** Why, in the revoker's words (free text, never a reason code). */
  note?: string;
}

/** What data loss prevention found in an action's result, and did about it. */
export interface DlpRecord {
  action: 'redact' | 'block' | 'audit';
  /** Findings per detector, e.g. `{ "secret.github": 1, "card": 2 }`. */
  findings: Readonly<Record<string, number>>;
}

/** Another trace's context, recorded but not joined. */
export interface TraceLink {
  trace_id: string;
  span_id?: string;
}

export type AuditEventInput = Omit<AuditEvent, 'id' | 'time'>;

/**
 * The mode an event records: a delegation mode, or `txn_token` for a Transaction Token the broker
 * issued (a token kind its policies and records have always named in this field), or `direct` for a
 * person acting in Baton's own console, with no agent between.
 */
export type AuditMode = DelegationMode | 'txn_token' | 'direct';

/**
 * Who an event is about, as `@baton/core`'s `identityFromClaims` derives it (an `Identity` is one): the
 * person or machine the action is for, the agent, the scopes and the delegation chain.
 */
export interface AuditIdentity {
  readonly actor: { readonly sub: string; readonly tenant: string | null };
  readonly agent: string;
  readonly scopes: readonly string[];
  readonly delegation: { readonly mode: AuditMode; readonly chain: readonly string[] };
}

/** What happened, to whom and where: the fields of one event besides the identity. */
export interface AuditEventFields {
  action: AuditAction;
  /** The component recording it, e.g. the MCP server's resource URI. */
  component: string;
  target: AuditEvent['target'];
  outcome: AuditOutcome;
  /** Why, when the outcome is not `ok`. */
  reason?: AuditReason | undefined;
  /** `performance.now()` when the action started: the event's duration runs to now. */
  started: number;
  /** The event's trace: its id, this event's span, the parent span and an untrusted caller's link. */
  trace: { traceId: string; spanId?: string; parentSpanId?: string; link?: TraceLink };
  envelopeId?: string;
  /** The mode this component acted in, when it is not the identity's (the boundary's configured policy). */
  mode?: AuditMode;
  /** The scopes the action was granted or asked with, when they are not the identity's. */
  scopes?: readonly string[];
  /** What was asked for, when it differs from what was granted. */
  scopesRequested?: readonly string[];
  /** The chain to record, when it is not the identity's (a call onwards adds this hop). */
  chain?: readonly string[];
  /** For `revocation` / `revocation.lift`: what it named and covered. */
  revocation?: RevocationDetail;
  /** The platform user a connector mapped the person to (see {@link AuditEvent.platform_subject}). */
  platformSubject?: string;
  /** The policy rules (`@id`) that decided. */
  policyRules?: readonly string[];
  /** The human approval involved, by id. */
  approvalId?: string;
  /** What data loss prevention found in the result (detectors and counts only). */
  dlp?: DlpRecord | undefined;
  /** The sender constraint of the token issued or used (see {@link AuditEvent.cnf}). */
  cnf?: Confirmation | undefined;
  /** The acting service's workload identity (SPIFFE ID), from its verified client certificate. */
  workloadId?: string | undefined;
}

/**
 * The one audit event constructor: from the identity the hop derived and what happened, the event
 * every component writes (the MCP boundary's tool invocations and downstream calls, the broker's
 * token requests, the downstream API's calls, the console's sign-ins).
 *
 * @example
 * await sink.write(auditEventOf(identity, {
 *   action: 'tool.invoke', component, target: { type: 'tool', name: 'list_orders' },
 *   outcome: 'denied', reason: 'scope_insufficient', started, trace: { traceId, spanId },
 * }));
 */
export function auditEventOf(identity: AuditIdentity, fields: AuditEventFields): AuditEvent {
  const { trace } = fields;
  return auditEvent({
    action: fields.action,
    component: fields.component,
    trace_id: trace.traceId,
    initiator: { sub: identity.actor.sub, tenant: identity.actor.tenant },
    agent: { id: identity.agent, client_id: identity.agent },
    ...(fields.platformSubject !== undefined ? { platform_subject: fields.platformSubject } : {}),
    target: fields.target,
    delegation_mode: fields.mode ?? identity.delegation.mode,
    scopes: fields.scopes ?? identity.scopes,
    outcome: fields.outcome,
    ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
    duration_ms: Math.round((performance.now() - fields.started) * 1000) / 1000,
    ...(fields.envelopeId !== undefined ? { envelope_id: fields.envelopeId } : {}),
    chain: fields.chain ?? identity.delegation.chain,
    ...(fields.scopesRequested !== undefined ? { scopes_requested: fields.scopesRequested } : {}),
    ...(trace.spanId !== undefined ? { span_id: trace.spanId } : {}),
    ...(trace.parentSpanId !== undefined ? { parent_span_id: trace.parentSpanId } : {}),
    ...(trace.link !== undefined ? { linked_trace: trace.link } : {}),
    ...(fields.revocation !== undefined ? { revocation: fields.revocation } : {}),
    ...(fields.policyRules !== undefined ? { policy_rules: fields.policyRules } : {}),
    ...(fields.approvalId !== undefined ? { approval_id: fields.approvalId } : {}),
    ...(fields.dlp !== undefined ? { dlp: fields.dlp } : {}),
    ...(fields.cnf !== undefined ? { cnf: fields.cnf } : {}),
    ...(fields.workloadId !== undefined ? { workload_id: fields.workloadId } : {}),
  });
}

/**
 * Stamps an id and time on an event already in its stored shape. Components build events with
 * {@link auditEventOf}; this is for tools that write events from another source (imports, tests).
 */
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
    ...(input.platform_subject !== undefined ? { platform_subject: input.platform_subject } : {}),
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
    ...(input.revocation !== undefined ? { revocation: input.revocation } : {}),
    ...(input.policy_rules !== undefined ? { policy_rules: input.policy_rules } : {}),
    ...(input.approval_id !== undefined ? { approval_id: input.approval_id } : {}),
    ...(input.dlp !== undefined ? { dlp: input.dlp } : {}),
    ...(input.cnf !== undefined ? { cnf: input.cnf } : {}),
    ...(input.workload_id !== undefined ? { workload_id: input.workload_id } : {}),
  };
}
