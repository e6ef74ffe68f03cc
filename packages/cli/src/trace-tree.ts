import type { AuditEvent } from '@baton/audit';
import { type Hop, orderHops } from '@baton/console';

export interface TraceNode {
  event: AuditEvent;
  children: TraceNode[];
}

/**
 * One trace's events as the tree of hops that caused one another: the console's causal order
 * (`orderHops`, through W3C span links) as a tree. Every event appears exactly once, including
 * events with a duplicated span id or caught in a span cycle.
 */
export function traceTree(events: readonly AuditEvent[]): TraceNode[] {
  const nodes = new Map<Hop, TraceNode>();
  const roots: TraceNode[] = [];
  // Depth first: a hop's parent is always placed before it.
  for (const hop of orderHops(events)) {
    const node: TraceNode = { event: hop.event, children: [] };
    nodes.set(hop, node);
    (hop.parent ? nodes.get(hop.parent)!.children : roots).push(node);
  }
  return roots;
}

/** Renders the tree for a terminal: who, which agent, then every hop with its mode, outcome and chain. */
export function renderTraceTree(events: readonly AuditEvent[]): string {
  if (events.length === 0) return 'no events for this trace\n';
  const first = [...events].sort((a, b) => a.time.localeCompare(b.time))[0]!;
  const lines = [
    `trace ${first.trace_id}`,
    `user  ${first.initiator.sub}${first.initiator.tenant ? ` (tenant ${first.initiator.tenant})` : ''}`,
    `agent ${first.agent.client_id}`,
  ];
  const walk = (nodes: TraceNode[], prefix: string) => {
    nodes.forEach((node, index) => {
      const last = index === nodes.length - 1;
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${describe(node.event)}`);
      walk(node.children, `${prefix}${last ? '   ' : '│  '}`);
    });
  };
  walk(traceTree(events), '');
  return `${lines.join('\n')}\n`;
}

function describe(event: AuditEvent): string {
  const what =
    event.action === 'tool.invoke'
      ? `tool ${event.target.name}`
      : event.action === 'token.exchange'
        ? `token exchange → ${event.target.name}`
        : `call ${event.target.name}`;
  const outcome =
    event.outcome === 'ok'
      ? 'ok'
      : `${event.outcome.toUpperCase()}${event.reason ? ` (${event.reason})` : ''}`;
  const chain = event.chain?.length ? `  chain ${event.chain.join(' > ')}` : '';
  const scopes = event.scopes.length ? `  scopes ${event.scopes.join(' ')}` : '';
  return `${what} at ${event.component}  [${event.delegation_mode}]  ${outcome}  ${event.duration_ms} ms${scopes}${chain}`;
}
