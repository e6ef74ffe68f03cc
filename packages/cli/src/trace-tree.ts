import type { AuditEvent } from '@baton/audit';
import { type Hop, initiatorText, linkedTrace, orderHops, summarise } from '@baton/console';

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

/**
 * Renders the tree for a terminal: who, which agent, then every hop with its mode, outcome and chain.
 * A trace with more than one initiator is never headed by one person's name: it says MIXED, names
 * them all, and every hop names its own.
 */
export function renderTraceTree(events: readonly AuditEvent[]): string {
  if (events.length === 0) return 'no events for this trace\n';
  const summary = summarise(events[0]!.trace_id, events);
  const mixed = summary.mixed_initiators;
  const initiators = summary.initiators.map(initiatorText);
  const lines = [
    `trace ${summary.trace_id}`,
    ...(mixed
      ? [
          `! MIXED INITIATORS: this is not one person's trace (${initiators.length} initiators; each hop names its own)`,
          `initiators ${initiators.join(', ')}`,
        ]
      : [`user  ${initiators[0]}`]),
    `${summary.agents.length > 1 ? 'agents' : 'agent'} ${summary.agents.join(', ')}`,
  ];
  const walk = (nodes: TraceNode[], prefix: string) => {
    nodes.forEach((node, index) => {
      const last = index === nodes.length - 1;
      const who = mixed ? `  user ${initiatorText(node.event.initiator)}` : '';
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${describe(node.event)}${who}`);
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
      : event.action === 'resource.read' || event.action === 'prompt.get'
        ? `${event.target.type} ${event.target.name}`
        : event.action === 'token.exchange'
          ? `token exchange → ${event.target.name}`
          : event.action === 'revocation' || event.action === 'revocation.lift'
            ? `${event.action === 'revocation' ? 'revocation' : 'lift'} ${event.target.name}${revocationText(event)}`
            : `call ${event.target.name}`;
  const outcome =
    event.outcome === 'ok'
      ? 'ok'
      : `${event.outcome.toUpperCase()}${event.reason ? ` (${event.reason})` : ''}`;
  const chain = event.chain?.length ? `  chain ${event.chain.join(' > ')}` : '';
  const scopes = event.scopes.length ? `  scopes ${event.scopes.join(' ')}` : '';
  // Both identities when a connector mapped the person to a platform user (never a token).
  const platform = event.platform_subject ? `  platform-user ${event.platform_subject}` : '';
  const linked = linkedTrace(event);
  const link = linked ? `  linked-trace ${linked.trace_id} (caller's context, not joined)` : '';
  return `${what} at ${event.component}  [${event.delegation_mode}]  ${outcome}  ${event.duration_ms} ms${scopes}${chain}${platform}${link}`;
}

/** What a revocation covered and why, as the list and the tree print it (` covered 3 "offboarded"`). */
export function revocationText(event: AuditEvent): string {
  const revocation = event.revocation;
  if (!revocation) return '';
  return [
    revocation.covered !== undefined ? `  covered ${revocation.covered}` : '',
    revocation.before !== undefined ? `  before ${new Date(revocation.before * 1000).toISOString()}` : '',
    revocation.note !== undefined ? `  note ${JSON.stringify(revocation.note)}` : '',
  ].join('');
}
