export { type Console, type ConsoleOptions, createConsole } from './console.ts';
export {
  DEFAULT_TRACE_LIMIT,
  EVENT_SCAN_LIMIT,
  type FilterValues,
  MAX_TRACE_LIMIT,
  parseFilters,
  type TraceFilters,
  utcTime,
} from './filters.ts';
export {
  type EdgeHop,
  type GraphEdge,
  type GraphNode,
  type IdentityGraph,
  identityGraph,
  type NodeKind,
} from './graph.ts';
export { renderGraphSvg } from './graph-svg.ts';
export { type Hop, orderHops } from './hops.ts';
export { escapeHtml, html, SafeHtml } from './html.ts';
export { CONTENT_SECURITY_POLICY } from './security.ts';
export { type RunningConsole, type StartConsoleOptions, startConsole } from './server.ts';
export { loadTrace, type TraceView, traceJson } from './trace-view.ts';
export { listTraces, summarise, type TraceSummary } from './traces.ts';
