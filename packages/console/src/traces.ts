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
   * More than one initiator in this trace (counting events hidden from this reader): it is not one
   * person's trace. A caller may have joined another person's trace, or a service acted for several.
   */
  mixed_initiators: boolean;
  /** Some events of this trace belong to tenants this reader may not see; they are left out. */
  other_tenants_hidden: boolean;
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
 * Summarises one trace's events (at least one). `hidden` are the trace's events this reader may not
 * see: they count only towards `mixed_initiators` and `other_tenants_hidden`.
 */
export function summarise(
  traceId: string,
  events: readonly AuditEvent[],
  hidden: readonly AuditEvent[] = [],
): TraceSummary {
  const initiators = uniqueInitiators(events);
  const times = events.map((event) => event.time).sort();
  const first = orderHops(events)[0]!.event;
  return {
    trace_id: traceId,
    started: times[0]!,
    ended: times[times.length - 1]!,
    users: unique(events.map((event) => event.initiator.sub)),
    initiators,
    mixed_initiators: uniqueInitiators([...events, ...hidden]).length > 1,
    other_tenants_hidden: hidden.length > 0,
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
  // One read for the whole page: a reader may scan its store per query.
  const byTrace = new Map<string, { shown: AuditEvent[]; hidden: AuditEvent[] }>();
  for (const event of await reader.query({ traceIds: chosen })) {
    const trace = byTrace.get(event.trace_id) ?? { shown: [], hidden: [] };
    (inScope(scope, event) ? trace.shown : trace.hidden).push(event);
    byTrace.set(event.trace_id, trace);
  }
  return [...byTrace]
    .filter(([, trace]) => trace.shown.length > 0)
    .map(([traceId, trace]) => summarise(traceId, trace.shown, trace.hidden))
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
