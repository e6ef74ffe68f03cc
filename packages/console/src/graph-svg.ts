import type { EdgeHop, GraphEdge, GraphNode, IdentityGraph, NodeKind } from './graph.ts';
import { html, type SafeHtml } from './html.ts';
import { layoutGraph, type Point } from './layout.ts';
import { sameScopes, scopeText } from './scopes.ts';

/** Monospace text is measured by character count: no font metrics are available server-side. */
const CHAR = { node: 7.2, label: 6.6 };
const LINE = { node: 16, label: 14 };
const MAX_CHARS = { node: 34, label: 44 };
/** More hops than this on one edge are summarised; the table below the graph lists them all. */
const HOPS_PER_LABEL = 3;

export const KIND_CAPTIONS: Record<NodeKind, string> = {
  user: 'person',
  agent: 'agent',
  mcp: 'MCP server',
  broker: 'token broker',
  api: 'API',
  service: 'service',
};

interface Line {
  text: string;
  className: string;
}

/**
 * The identity graph as inline SVG, laid out on the server: nothing runs in the browser, so the
 * page keeps a script-free Content-Security-Policy. Every state a colour shows is also written out
 * (a "✕ DENIED" line, a dashed line, a legend), so the graph reads without colour.
 */
export function renderGraphSvg(graph: IdentityGraph, description: string): SafeHtml {
  const nodeLines = new Map(graph.nodes.map((node) => [node.id, linesOfNode(node)]));
  const edgeLines = new Map(graph.edges.map((edge) => [edge.id, linesOfEdge(edge, graph)]));
  const layout = layoutGraph(
    graph.nodes.map((node) => ({ id: node.id, ...sizeOf(nodeLines.get(node.id)!, 'node') })),
    graph.edges.map((edge) => ({
      id: edge.id,
      from: edge.from,
      to: edge.to,
      label: sizeOf(edgeLines.get(edge.id)!, 'label'),
    })),
  );
  const width = Math.ceil(layout.width);
  const height = Math.ceil(layout.height);
  const edges = graph.edges.map((edge) => {
    const placed = layout.edges.get(edge.id);
    if (!placed) return '';
    const modes = [...new Set(edge.hops.map((hop) => hop.mode))];
    const state = stateOf(edge.outcome, edge.stepUp);
    return html`<g class="edge edge-${edge.kind} state-${state}" data-from="${edge.from}" data-to="${edge.to}" data-modes="${modes.join(' ')}" data-outcome="${edge.outcome}" data-step-up="${String(edge.stepUp)}">
<title>${edgeTitle(edge, graph)}</title>
<path class="edge-line" d="${smoothPath(placed.points)}" marker-end="url(#arrow-${state})"/>
</g>`;
  });
  // Labels after every line, so no line crosses a label's text.
  const labels = graph.edges.map((edge) => {
    const placed = layout.edges.get(edge.id);
    if (!placed) return '';
    const { label } = placed;
    const state = stateOf(edge.outcome, edge.stepUp);
    return html`<g class="edge-label state-${state}" data-edge="${edge.id}">
<rect class="edge-label-box" x="${fixed(label.x - label.width / 2)}" y="${fixed(label.y - label.height / 2)}" width="${fixed(label.width)}" height="${fixed(label.height)}" rx="4"/>
${textLines(edgeLines.get(edge.id)!, label.x - label.width / 2 + 8, label.y - label.height / 2, 'label')}
</g>`;
  });
  const nodes = graph.nodes.map((node) => {
    const box = layout.nodes.get(node.id)!;
    const state = stateOf(node.outcome, node.stepUp);
    return html`<g class="node node-${node.kind} state-${state}" data-node-id="${node.id}" data-kind="${node.kind}" data-name="${node.name}">
<title>${[KIND_CAPTIONS[node.kind], node.name, node.detail, ...node.aliases.filter((alias) => alias !== node.name)].filter(Boolean).join('\n')}</title>
<rect class="node-box" x="${fixed(box.x - box.width / 2)}" y="${fixed(box.y - box.height / 2)}" width="${fixed(box.width)}" height="${fixed(box.height)}" rx="8"/>
${textLines(nodeLines.get(node.id)!, box.x - box.width / 2 + 10, box.y - box.height / 2, 'node')}
</g>`;
  });
  return html`<svg class="identity-graph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="graph-title graph-desc">
<title id="graph-title">Identity chain of this trace</title>
<desc id="graph-desc">${description}</desc>
<defs>${(['ok', 'denied', 'error', 'step-up'] as const).map(
    (state) =>
      html`<marker id="arrow-${state}" class="arrow state-${state}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
  )}</defs>
<g class="edges">${edges}</g>
<g class="labels">${labels}</g>
<g class="nodes">${nodes}</g>
</svg>`;
}

/** `ok`, `denied`, `error`, or `step-up` (a denial that asks for more scope): one class drives colour and dash. */
export function stateOf(
  outcome: GraphNode['outcome'],
  stepUp: boolean,
): 'ok' | 'denied' | 'error' | 'step-up' {
  if (outcome === 'error') return 'error';
  if (outcome === 'denied') return stepUp ? 'step-up' : 'denied';
  return 'ok';
}

function linesOfNode(node: GraphNode): Line[] {
  const lines: Line[] = [
    { text: KIND_CAPTIONS[node.kind].toUpperCase(), className: 'node-kind' },
    { text: node.name, className: 'node-name' },
  ];
  if (node.detail) lines.push({ text: node.detail, className: 'node-detail' });
  if (node.outcome !== 'ok') lines.push({ text: nodeStatus(node), className: 'status' });
  return lines;
}

function linesOfEdge(edge: GraphEdge, graph: IdentityGraph): Line[] {
  if (edge.kind === 'delegation') {
    const user = graph.nodes.find((node) => node.id === edge.from)?.name ?? '';
    return [
      { text: 'delegates', className: 'hop-head' },
      { text: `agent acts for ${user}`, className: 'hop-detail' },
    ];
  }
  const lines: Line[] = [];
  for (const hop of edge.hops.slice(0, HOPS_PER_LABEL)) {
    lines.push({ text: `#${hop.n} ${hop.action} ${hop.target}`, className: 'hop-head' });
    lines.push({ text: `${hop.mode} · ${scopeText(hop.scopes)}`, className: 'hop-detail' });
    if (hop.scopesRequested && !sameScopes(hop.scopesRequested, hop.scopes))
      lines.push({ text: `asked ${scopeText(hop.scopesRequested)}`, className: 'hop-detail' });
    if (hop.outcome !== 'ok')
      lines.push({
        text: statusText(hop.outcome, hop.reason === 'scope_insufficient', hop.reason),
        className: 'status',
      });
  }
  const more = edge.hops.length - HOPS_PER_LABEL;
  if (more > 0) lines.push({ text: `+${more} more (see the table)`, className: 'hop-detail' });
  return lines;
}

function statusText(outcome: GraphNode['outcome'], stepUp: boolean, reason: string | undefined): string {
  if (outcome === 'error') return `! ERROR ${reason ?? ''}`.trim();
  if (stepUp) return `⤴ DENIED, STEP-UP NEEDED ${reason ?? ''}`.trim();
  return `✕ DENIED ${reason ?? ''}`.trim();
}

/** What happened at a node itself: it is where the refusal or failure was recorded. */
function nodeStatus(node: GraphNode): string {
  if (node.outcome === 'error') return '! failed here';
  return node.stepUp ? '⤴ asked for step-up here' : '✕ refused here';
}

function edgeTitle(edge: GraphEdge, graph: IdentityGraph): string {
  const name = (id: string) => graph.nodes.find((node) => node.id === id)?.name ?? id;
  const head = `${name(edge.from)} → ${name(edge.to)}`;
  return [head, ...edge.hops.map(hopTitle)].join('\n');
}

function hopTitle(hop: EdgeHop): string {
  const status = hop.outcome === 'ok' ? 'ok' : `${hop.outcome}${hop.reason ? ` (${hop.reason})` : ''}`;
  return `#${hop.n} ${hop.action} ${hop.target}, ${hop.mode}, scopes ${scopeText(hop.scopes)}: ${status}`;
}

function sizeOf(lines: readonly Line[], kind: 'node' | 'label'): { width: number; height: number } {
  const longest = Math.max(...lines.map((line) => Math.min(line.text.length, MAX_CHARS[kind])));
  const width = Math.max(
    kind === 'node' ? 150 : 90,
    Math.ceil(longest * CHAR[kind]) + (kind === 'node' ? 20 : 16),
  );
  return { width, height: lines.length * LINE[kind] + 10 };
}

function textLines(lines: readonly Line[], left: number, top: number, kind: 'node' | 'label'): SafeHtml[] {
  return lines.map(
    (line, index) =>
      html`<text class="${line.className}" x="${fixed(left)}" y="${fixed(top + 5 + (index + 0.75) * LINE[kind])}">${clip(line.text, MAX_CHARS[kind])}</text>`,
  );
}

/** Long values are cut with an ellipsis; the element's `<title>` and the table keep them whole. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A smooth curve through the points, leaving and entering each vertically (the layout runs downward). */
function smoothPath(points: readonly Point[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  let path = `M${fixed(first.x)},${fixed(first.y)}`;
  let previous = first;
  for (const point of rest) {
    const middle = (previous.y + point.y) / 2;
    path += ` C${fixed(previous.x)},${fixed(middle)} ${fixed(point.x)},${fixed(middle)} ${fixed(point.x)},${fixed(point.y)}`;
    previous = point;
  }
  return path;
}

function fixed(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}
