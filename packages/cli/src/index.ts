export { AUDIT_USAGE, auditCommand, queryFrom } from './audit-command.ts';
export { renderTraceTree, type TraceNode, traceTree } from './trace-tree.ts';
