import type { AuditEvent } from '@baton/audit';

/** One event of a trace, numbered in causal order, with the hop that caused it when that is known. */
export interface Hop {
  /** 1-based position in causal order: what the graph's edge labels and the table refer to. */
  n: number;
  event: AuditEvent;
  /** The hop named by this event's `parent_span_id`, when that span is in the trace. */
  parent?: Hop;
  /** How many recorded ancestors this hop has (0 for a root). */
  depth: number;
}

/**
 * Puts a trace's events in causal order. Events are written when an action finishes, so a hop that
 * caused others is usually recorded after them: time order reads backwards. Where events carry span
 * links, the order is the span tree walked depth first (a parent before what it caused, siblings by
 * time); events without a recorded parent are roots, in time order, so a trace without span ids
 * falls back to plain time order.
 */
export function orderHops(events: readonly AuditEvent[]): Hop[] {
  const byTime = [...events].sort(compareEvents);
  const bySpan = new Map<string, AuditEvent>();
  for (const event of byTime)
    if (event.span_id && !bySpan.has(event.span_id)) bySpan.set(event.span_id, event);
  const children = new Map<AuditEvent, AuditEvent[]>();
  const roots: AuditEvent[] = [];
  for (const event of byTime) {
    const parent = event.parent_span_id !== undefined ? bySpan.get(event.parent_span_id) : undefined;
    if (parent && parent !== event) {
      const siblings = children.get(parent) ?? [];
      siblings.push(event);
      children.set(parent, siblings);
    } else roots.push(event);
  }
  const hops: Hop[] = [];
  const visited = new Set<AuditEvent>();
  const visit = (event: AuditEvent, parent: Hop | undefined): void => {
    // A span cycle (corrupt or hostile data) must not loop: each event is placed once.
    if (visited.has(event)) return;
    visited.add(event);
    const hop: Hop = { n: hops.length + 1, event, depth: parent ? parent.depth + 1 : 0 };
    if (parent) hop.parent = parent;
    hops.push(hop);
    for (const child of children.get(event) ?? []) visit(child, hop);
  };
  for (const root of roots) visit(root, undefined);
  // Events caught only in a span cycle have no root; they still belong to the trace.
  for (const event of byTime) visit(event, undefined);
  return hops;
}

function compareEvents(a: AuditEvent, b: AuditEvent): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}
