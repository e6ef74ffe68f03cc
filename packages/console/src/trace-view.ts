import type { AuditReader } from '@baton/audit';
import { type IdentityGraph, identityGraph } from './graph.ts';
import { type Hop, orderHops } from './hops.ts';
import { ALL_TENANTS, inScope, type TenantScope } from './tenant-scope.ts';
import { summarise, type TraceSummary } from './traces.ts';

/** Everything both the trace page and its JSON show, read once. */
export interface TraceView {
  summary: TraceSummary;
  hops: Hop[];
  graph: IdentityGraph;
}

/** Trace ids longer than this are not looked up: W3C ids are 32 hex characters. */
const MAX_TRACE_ID = 256;

/**
 * The trace's events this reader may see, ordered and drawn; `undefined` when there are none, so a
 * trace of another tenant looks exactly like one that does not exist. A trace that spans tenants
 * shows this reader's events only, and says nothing of the others: not that they exist, not how many
 * (an auditor who could tell would have an oracle for which trace ids another tenant used).
 */
export async function loadTrace(
  reader: AuditReader,
  traceId: string,
  scope: TenantScope = ALL_TENANTS,
): Promise<TraceView | undefined> {
  if (traceId.length === 0 || traceId.length > MAX_TRACE_ID) return undefined;
  const events = await reader.query({ traceId });
  const shown = events.filter((event) => inScope(scope, event));
  if (shown.length === 0) return undefined;
  const hops = orderHops(shown);
  return { summary: summarise(traceId, shown), hops, graph: identityGraph(hops) };
}

/** The JSON form of a trace: parents by hop number, so tooling can rebuild the tree without spans. */
export function traceJson(view: TraceView) {
  return {
    trace_id: view.summary.trace_id,
    // Up front, so no tool reads a mixed trace as one person's without seeing this.
    mixed_initiators: view.summary.mixed_initiators,
    initiators: view.summary.initiators,
    summary: view.summary,
    hops: view.hops.map((hop) => ({
      n: hop.n,
      parent: hop.parent?.n ?? null,
      depth: hop.depth,
      event: hop.event,
    })),
    graph: view.graph,
  };
}
