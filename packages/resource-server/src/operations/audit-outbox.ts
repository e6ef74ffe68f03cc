import { Gauge, type Registry } from 'prom-client';

/** What an audit store with an outbox reports (`PostgresAuditStore.outboxStatus()` fits). */
export interface AuditOutboxSource {
  outboxStatus(): { pending: number; lagSeconds: number };
}

/** The series `auditOutboxMetrics` adds. */
export const AUDIT_OUTBOX_SERIES = [
  'baton_audit_outbox_pending_events',
  'baton_audit_outbox_lag_seconds',
] as const;

/**
 * Adds the audit outbox's depth and lag to `registry`, read at scrape time (nothing runs between
 * scrapes): events written locally but not yet in PostgreSQL, and the age of the oldest of them.
 *
 * @example
 * auditOutboxMetrics(registry, await PostgresAuditStore.open({ pool, outboxDirectory, writer }));
 */
export function auditOutboxMetrics(registry: Registry, source: AuditOutboxSource): void {
  new Gauge({
    name: 'baton_audit_outbox_pending_events',
    help: 'Audit events in the local outbox not yet in PostgreSQL',
    registers: [registry],
    collect() {
      this.set(source.outboxStatus().pending);
    },
  });
  new Gauge({
    name: 'baton_audit_outbox_lag_seconds',
    help: 'Age of the oldest audit event still in the outbox (0 when it is empty)',
    registers: [registry],
    collect() {
      this.set(source.outboxStatus().lagSeconds);
    },
  });
}
