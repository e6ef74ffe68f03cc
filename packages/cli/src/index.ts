export { AUDIT_USAGE, auditCommand, queryFrom } from './audit-command.ts';
export { CONSOLE_USAGE, type ConsoleCommandOptions, consoleCommandOptions } from './console-command.ts';
export { renderTraceTree, type TraceNode, traceTree } from './trace-tree.ts';
