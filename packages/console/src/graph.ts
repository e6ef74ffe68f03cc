import type { AuditAction, AuditEvent, AuditOutcome } from '@baton/audit';
import type { Hop } from './hops.ts';
import { isStepUp, worse } from './outcome.ts';

/** What a node is, from the role its events give it. */
export type NodeKind = 'user' | 'agent' | 'mcp' | 'broker' | 'api' | 'service';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** What a reviewer knows it by: a client id or service name when one is known, else the URL. */
  name: string;
  /** The URL (or tenant, for a user) when `name` is not already that. */
  detail?: string;
  /** Other names events use for it (client ids in `chain`, service names in `target`). */
  aliases: string[];
  /** The most serious outcome it recorded for calls to it: where a refusal or failure happened. */
  outcome: AuditOutcome;
  stepUp: boolean;
}

/** One hop as an edge label shows it. */
export interface EdgeHop {
  n: number;
  action: AuditAction;
  /** The tool, operation or service called; for a token exchange, the audience (by its node's name). */
  target: string;
  mode: string;
  scopes: readonly string[];
  scopesRequested?: readonly string[];
  outcome: AuditOutcome;
  reason?: string;
}

export interface GraphEdge {
  id: string;
  from: string;
  to: string;
  /** `delegation`: the person to the agent acting for them; `call`: one service calling another. */
  kind: 'delegation' | 'call';
  hops: EdgeHop[];
  outcome: AuditOutcome;
  stepUp: boolean;
}

export interface IdentityGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/**
 * Who called whom in one trace, from its events alone.
 *
 * Each event was recorded by `component`. Its caller is the component where its parent span was
 * recorded; without a span link, the first actor of its `chain` (the agent when the chain holds
 * only the agent). When the caller is the recording component itself, the event was recorded on the
 * way out (an MCP server's downstream `api.call`), so the callee is its target; otherwise the callee
 * is the recording component. Chain entries are client ids while components are URLs: a client id
 * is tied to a URL where a span link shows the call came from there, or else where the same chain
 * minus that actor invoked a tool. A call recorded by both ends is drawn as one edge between the
 * same two nodes: the caller's record is paired with the callee's by span link, by a known name, or
 * by the nearest `api.call` with the same chain and mode.
 */
export function identityGraph(hops: readonly Hop[]): IdentityGraph {
  const components = new Set(hops.map((hop) => hop.event.component));
  const aliases = new Map<string, string>();
  const alias = (name: string, key: string): void => {
    if (name !== key && !components.has(name) && !aliases.has(name)) aliases.set(name, key);
  };
  const resolve = (name: string): string => (components.has(name) ? name : (aliases.get(name) ?? name));

  for (const hop of hops) {
    const first = chainOf(hop.event)[0];
    if (first !== undefined && !isAgent(hop.event, first) && hop.parent)
      alias(first, hop.parent.event.component);
  }
  for (const hop of hops) {
    const chain = chainOf(hop.event);
    const first = chain[0];
    if (chain.length < 2 || first === undefined || isAgent(hop.event, first) || resolve(first) !== first)
      continue;
    const rest = chain.slice(1);
    const invokedAt = new Set(
      hops
        .filter((other) => other.event.action === 'tool.invoke' && sameChain(chainOf(other.event), rest))
        .map((other) => other.event.component),
    );
    if (invokedAt.size === 1) alias(first, [...invokedAt][0]!);
  }

  const callers = new Map<Hop, string>();
  for (const hop of hops) {
    const first = chainOf(hop.event)[0];
    if (hop.parent) callers.set(hop, serviceId(hop.parent.event.component));
    else if (first === undefined || isAgent(hop.event, first)) callers.set(hop, agentId(hop.event));
    else callers.set(hop, serviceId(resolve(first)));
  }
  const outbound = (hop: Hop) => callers.get(hop) === serviceId(hop.event.component);

  // Callees of calls recorded on the way out: exact pairings first, so the fallback cannot take them.
  const callees = new Map<Hop, string>();
  const claimed = new Set<Hop>();
  for (const hop of hops) {
    if (!outbound(hop)) continue;
    const answered = hops.filter(
      (other) =>
        other.parent === hop &&
        other.event.component !== hop.event.component &&
        other.event.action !== 'token.exchange',
    );
    const at = new Set(answered.map((other) => other.event.component));
    // A token exchanged for this call names where it went, even when the call was then refused.
    const audiences = new Set(
      hops
        .filter((other) => other.parent === hop && other.event.action === 'token.exchange')
        .map((other) => other.event.target.name),
    );
    const named = resolve(hop.event.target.name);
    if (at.size === 1) {
      for (const other of answered) claimed.add(other);
      callees.set(hop, [...at][0]!);
    } else if (components.has(named) && named !== hop.event.component) callees.set(hop, named);
    else if (at.size === 0 && audiences.size === 1) callees.set(hop, resolve([...audiences][0]!));
  }
  for (const hop of hops) {
    if (!outbound(hop) || callees.has(hop)) continue;
    const candidates = hops.filter(
      (other) =>
        !claimed.has(other) &&
        other.event.action === 'api.call' &&
        !outbound(other) &&
        callers.get(other) === callers.get(hop) &&
        other.event.delegation_mode === hop.event.delegation_mode &&
        sameChain(chainOf(other.event), chainOf(hop.event)),
    );
    const nearest = candidates.sort((a, b) => distance(a, hop) - distance(b, hop))[0];
    if (nearest) claimed.add(nearest);
    callees.set(hop, nearest ? nearest.event.component : hop.event.target.name);
  }
  for (const [hop, key] of callees) alias(hop.event.target.name, key);

  const nodes = new Map<string, GraphNode>();
  const node = (id: string, kind: NodeKind, name: string, detail?: string): GraphNode => {
    let existing = nodes.get(id);
    if (!existing) {
      existing = { id, kind, name, aliases: [], outcome: 'ok', stepUp: false };
      if (detail !== undefined && detail !== name) existing.detail = detail;
      nodes.set(id, existing);
    }
    return existing;
  };
  const service = (key: string): GraphNode => node(serviceId(key), 'service', key);
  const edges = new Map<string, GraphEdge>();

  for (const hop of hops) {
    const { event } = hop;
    node(`user:${event.initiator.sub}`, 'user', event.initiator.sub, tenantOf(event));
    node(agentId(event), 'agent', event.agent.client_id, event.agent.id);
    edge(edges, `user:${event.initiator.sub}`, agentId(event), 'delegation');
  }
  for (const hop of hops) {
    const { event } = hop;
    const from = callers.get(hop)!;
    if (from.startsWith('svc:')) service(from.slice(4));
    const isOutbound = outbound(hop);
    const calleeKey = isOutbound ? callees.get(hop)! : event.component;
    const callee = service(calleeKey);
    callee.kind = strongerKind(callee.kind, roleOf(event, isOutbound));
    // A node is marked for what it recorded itself (it refused or failed), not for calls refused upstream.
    if (!isOutbound) {
      callee.outcome = worse(callee.outcome, event.outcome);
      callee.stepUp ||= isStepUp(event);
    }
    const target =
      event.action === 'token.exchange'
        ? `aud ${displayName(resolve(event.target.name))}`
        : isRevocation(event)
          ? `${event.action === 'revocation' ? 'revoke' : 'lift'} ${event.target.name}`
          : event.target.name;
    const shown: EdgeHop = {
      n: hop.n,
      action: event.action,
      target,
      mode: event.delegation_mode,
      scopes: event.scopes,
      outcome: event.outcome,
    };
    if (event.scopes_requested) shown.scopesRequested = event.scopes_requested;
    if (event.reason !== undefined) shown.reason = event.reason;
    const line = edge(edges, from, serviceId(calleeKey), 'call');
    line.hops.push(shown);
    line.outcome = worse(line.outcome, event.outcome);
    line.stepUp ||= isStepUp(event);
  }
  for (const [name, key] of aliases) {
    const known = nodes.get(serviceId(key));
    if (known && !known.aliases.includes(name)) known.aliases.push(name);
  }
  for (const known of nodes.values()) {
    if (!known.id.startsWith('svc:')) continue;
    const key = known.id.slice(4);
    // Named by an alias, the URL is shown too; otherwise the short URL is the name and says enough.
    known.name = known.aliases[0] ?? shortUrl(key);
    if (known.aliases.length > 0 && known.name !== key) known.detail = key;
  }
  // Every alias is known before the first edge is labelled, so an audience is named as its node is.
  function displayName(key: string): string {
    const names = [...aliases].filter(([, value]) => value === key).map(([name]) => name);
    return names[0] ?? key;
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

function edge(edges: Map<string, GraphEdge>, from: string, to: string, kind: GraphEdge['kind']): GraphEdge {
  const id = `${from} -> ${to}`;
  let existing = edges.get(id);
  if (!existing) {
    existing = { id, from, to, kind, hops: [], outcome: 'ok', stepUp: false };
    edges.set(id, existing);
  }
  return existing;
}

const KIND_RANK: Record<NodeKind, number> = { user: 0, agent: 0, service: 1, api: 2, mcp: 3, broker: 4 };

/** A component seen in several roles keeps the most specific: a broker that also serves an API is the broker. */
function strongerKind(a: NodeKind, b: NodeKind): NodeKind {
  return KIND_RANK[b] > KIND_RANK[a] ? b : a;
}

/**
 * What an event says about its callee. A component's own records say the most (it served a tool, an
 * exchange, an API call); a call recorded on the way out only says what the caller called it.
 */
function roleOf(event: AuditEvent, outbound: boolean): NodeKind {
  if (outbound) return 'service';
  if (event.action === 'token.exchange' || isRevocation(event)) return 'broker';
  // An MCP server's own records: tool calls, resource reads and prompt gets.
  return event.action === 'tool.invoke' || event.action === 'resource.read' || event.action === 'prompt.get'
    ? 'mcp'
    : 'api';
}

/** A revocation (or its lift) the broker recorded: an operator acting at the broker, not a call. */
export function isRevocation(event: AuditEvent): boolean {
  return event.action === 'revocation' || event.action === 'revocation.lift';
}

function chainOf(event: AuditEvent): readonly string[] {
  return event.chain ?? [event.agent.id];
}

function isAgent(event: AuditEvent, name: string): boolean {
  return name === event.agent.id || name === event.agent.client_id;
}

function sameChain(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, index) => name === b[index]);
}

function distance(a: Hop, b: Hop): number {
  return Math.abs(Date.parse(a.event.time) - Date.parse(b.event.time));
}

function agentId(event: AuditEvent): string {
  return `agent:${event.agent.client_id}`;
}

function serviceId(key: string): string {
  return `svc:${key}`;
}

function tenantOf(event: AuditEvent): string | undefined {
  return event.initiator.tenant ? `tenant ${event.initiator.tenant}` : undefined;
}

/** `http://127.0.0.1:4001/mcp` as `127.0.0.1:4001/mcp`: the scheme adds length, not meaning, in a box. */
export function shortUrl(value: string): string {
  return value.replace(/^https?:\/\//, '').replace(/\/$/, '');
}
