import type { AuditEvent, AuditOutcome, AuditReader } from '@baton/audit';
import type { TraceFilters } from './filters.ts';
import { orderHops } from './hops.ts';
import { isStepUp, worstOutcome } from './outcome.ts';

/** One trace as the list shows it: who, through which agent, starting with what, and how it ended. */
export interface TraceSummary {
  trace_id: string;
  /** Time of the earliest and latest event. */
  started: string;
  ended: string;
  users: string[];
  agents: string[];
  /** The first hop in causal order: usually the tool the agent called. */
  first: { action: AuditEvent['action']; target: string; component: string };
  events: number;
  outcome: AuditOutcome;
  denied: number;
  errors: number;
  step_up: boolean;
}

/** Summarises one trace's events (at least one). */
export function summarise(traceId: string, events: readonly AuditEvent[]): TraceSummary {
  const times = events.map((event) => event.time).sort();
  const first = orderHops(events)[0]!.event;
  return {
    trace_id: traceId,
    started: times[0]!,
    ended: times[times.length - 1]!,
    users: unique(events.map((event) => event.initiator.sub)),
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
export async function listTraces(reader: AuditReader, filters: TraceFilters): Promise<TraceSummary[]> {
  const matches = await reader.query(filters.query);
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
  const byTrace = new Map<string, AuditEvent[]>();
  for (const event of await reader.query({ traceIds: chosen })) {
    const events = byTrace.get(event.trace_id) ?? [];
    events.push(event);
    byTrace.set(event.trace_id, events);
  }
  return [...byTrace]
    .map(([traceId, events]) => summarise(traceId, events))
    .sort((a, b) => (a.ended < b.ended ? 1 : a.ended > b.ended ? -1 : 0));
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
