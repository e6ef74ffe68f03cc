import type { AuditEvent, AuditOutcome } from '@baton/audit';

const SEVERITY: Record<AuditOutcome, number> = { ok: 0, denied: 1, error: 2 };

/** The more serious of two outcomes: an error outranks a denial (policy working), which outranks ok. */
export function worse(a: AuditOutcome, b: AuditOutcome): AuditOutcome {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/** The most serious outcome among events (`ok` for none). */
export function worstOutcome(events: Iterable<AuditEvent>): AuditOutcome {
  let outcome: AuditOutcome = 'ok';
  for (const event of events) outcome = worse(outcome, event.outcome);
  return outcome;
}

/**
 * A denial that asks for more scope rather than refusing outright: the client may step up (RFC 6750
 * `insufficient_scope`) and retry, so a reviewer reads it differently from a policy refusal.
 */
export function isStepUp(event: AuditEvent): boolean {
  return event.reason === 'scope_insufficient';
}
