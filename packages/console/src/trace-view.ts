import type { AuditReader } from '@baton/audit';
import { type IdentityGraph, identityGraph } from './graph.ts';
import { type Hop, orderHops } from './hops.ts';
import { summarise, type TraceSummary } from './traces.ts';

/** Everything both the trace page and its JSON show, read once. */
export interface TraceView {
  summary: TraceSummary;
  hops: Hop[];
  graph: IdentityGraph;
}

/** Trace ids longer than this are not looked up: W3C ids are 32 hex characters. */
const MAX_TRACE_ID = 256;

/** The trace's events, ordered and drawn; `undefined` when the reader has none for that id. */
export async function loadTrace(reader: AuditReader, traceId: string): Promise<TraceView | undefined> {
  if (traceId.length === 0 || traceId.length > MAX_TRACE_ID) return undefined;
  const events = await reader.query({ traceId });
  if (events.length === 0) return undefined;
  const hops = orderHops(events);
  return { summary: summarise(traceId, events), hops, graph: identityGraph(hops) };
}

/** The JSON form of a trace: parents by hop number, so tooling can rebuild the tree without spans. */
export function traceJson(view: TraceView) {
  return {
    trace_id: view.summary.trace_id,
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
