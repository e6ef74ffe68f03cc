import type { AuditEvent, AuditOutcome, AuditReader } from '@baton/audit';
import type { TraceFilters } from './filters.ts';
import { orderHops } from './hops.ts';
import { isStepUp, worstOutcome } from './outcome.ts';
import { ALL_TENANTS, inScope, type TenantScope } from './tenant-scope.ts';

/** Who an event was for: the person (or service) and their tenant. */
export interface Initiator {
  sub: string;
  tenant: string | null;
}

/** One trace as the list shows it: who, through which agent, starting with what, and how it ended. */
export interface TraceSummary {
  trace_id: string;
  /** Time of the earliest and latest event. */
  started: string;
  ended: string;
  /** The initiators' `sub`s, as shown; see `initiators` and `mixed_initiators` before reading it as one person's. */
  users: string[];
  /** Every initiator of the events shown. */
  initiators: Initiator[];
  /**
   * More than one initiator among the events shown: it is not one person's trace. A caller may have
   * joined another person's trace, or a service acted for several.
   */
  mixed_initiators: boolean;
  agents: string[];
  /** The first hop in causal order: usually the tool the agent called. */
  first: { action: AuditEvent['action']; target: string; component: string };
  events: number;
  outcome: AuditOutcome;
  denied: number;
  errors: number;
  step_up: boolean;
}

/**
 * Summarises the events of one trace a reader may see (at least one). Everything, the mixed flag
 * included, is computed from these alone: events of tenants the reader may not see leave no trace in
 * the summary (no count, no name, no flag), so a tenant's auditor cannot learn that another tenant
 * used, or was made to share, a trace id.
 */
export function summarise(traceId: string, events: readonly AuditEvent[]): TraceSummary {
  const initiators = uniqueInitiators(events);
  const times = events.map((event) => event.time).sort();
  const first = orderHops(events)[0]!.event;
  return {
    trace_id: traceId,
    started: times[0]!,
    ended: times[times.length - 1]!,
    users: unique(events.map((event) => event.initiator.sub)),
    initiators,
    mixed_initiators: initiators.length > 1,
    agents: unique(events.map((event) => event.agent.client_id)),
    first: { action: first.action, target: first.target.name, component: first.component },
    events: events.length,
    outcome: worstOutcome(events),
    denied: events.filter((event) => event.outcome === 'denied').length,
    errors: events.filter((event) => event.outcome === 'error').length,
    step_up: events.some(isStepUp),
  };
}

/**
 * The traces with at least one event matching the filters, newest first. Filters choose traces; each
 * row then sums up the whole trace (all its events), so filtering by a tool deep in a chain still
 * shows who started it.
 */
export async function listTraces(
  reader: AuditReader,
  filters: TraceFilters,
  scope: TenantScope = ALL_TENANTS,
): Promise<TraceSummary[]> {
  // Readers select by the query's fields only, so the tenant is applied to what they return.
  const matches = (await reader.query(filters.query)).filter((event) => inScope(scope, event));
  const latest = new Map<string, string>();
  for (const event of matches) {
    const seen = latest.get(event.trace_id);
    if (seen === undefined || event.time > seen) latest.set(event.trace_id, event.time);
  }
  const chosen = [...latest]
    .sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0))
    .slice(0, filters.limit)
    .map(([traceId]) => traceId);
  if (chosen.length === 0) return [];
  // One read for the whole page: a reader may scan its store per query. Events of other tenants are
  // dropped here, before anything is counted.
  const byTrace = new Map<string, AuditEvent[]>();
  for (const event of await reader.query({ traceIds: chosen })) {
    if (!inScope(scope, event)) continue;
    const shown = byTrace.get(event.trace_id) ?? [];
    shown.push(event);
    byTrace.set(event.trace_id, shown);
  }
  return [...byTrace]
    .map(([traceId, shown]) => summarise(traceId, shown))
    .sort((a, b) => (a.ended < b.ended ? 1 : a.ended > b.ended ? -1 : 0));
}

function uniqueInitiators(events: readonly AuditEvent[]): Initiator[] {
  const seen = new Map<string, Initiator>();
  for (const { initiator } of events) {
    const key = JSON.stringify([initiator.tenant, initiator.sub]);
    if (!seen.has(key)) seen.set(key, { sub: initiator.sub, tenant: initiator.tenant });
  }
  return [...seen.values()];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
