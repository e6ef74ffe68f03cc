export {
  type ConsoleAuthOptions,
  NO_SIGN_IN_BEHIND_TRUSTED_PROXY,
  type OpenIdSignInOptions,
} from './auth/options.ts';
export { ConsoleRefusal, type ConsoleRefusalReason } from './auth/refusal.ts';
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
export { initiatorText, linkedTrace } from './initiators.ts';
export { CONTENT_SECURITY_POLICY } from './security.ts';
export { type RunningConsole, type StartConsoleOptions, startConsole } from './server.ts';
export { ALL_TENANTS, inScope, type TenantScope, type Viewer } from './tenant-scope.ts';
export { loadTrace, type TraceView, traceJson } from './trace-view.ts';
export { type Initiator, listTraces, summarise, type TraceSummary } from './traces.ts';
