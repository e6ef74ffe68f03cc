import { parseArgs } from 'node:util';
import type { AuditEvent, AuditOutcome, AuditQuery, AuditReader } from '@baton/audit';
import { utcTime } from '@baton/console';
import { renderTraceTree, revocationText } from './trace-tree.ts';

export const AUDIT_USAGE = `usage:
  baton audit trace <trace-id>            one trace as a tree of hops
  baton audit list [filters]              actions, one line each
  baton audit export [filters]            JSON lines, for other tools
  baton audit export [filters] --output FILE   the same, into a new owner-only file
  baton audit verify [WRITER]             check the hash chain and signed checkpoints
  baton audit <subcommand> --help         help for one subcommand
filters: --user SUB --agent CLIENT_ID --tool NAME --outcome ok|denied|error --since TIME --until TIME --limit N
store:   --store DIRECTORY (embedded) or --postgres URL; default $BATON_AUDIT_STORE or .baton/audit
times:   RFC 3339; without a zone they are UTC (as in the console)
`;

/** Parses filters into the one query shape every reader understands. */
export function queryFrom(values: Record<string, string | boolean | undefined>): AuditQuery {
  const outcome = values.outcome as string | undefined;
  if (outcome !== undefined && !['ok', 'denied', 'error'].includes(outcome)) {
    throw new Error(`--outcome must be ok, denied or error, not ${outcome}`);
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0))
    throw new Error('--limit must be a positive integer');
  const times: { since?: string; until?: string } = {};
  for (const key of ['since', 'until'] as const) {
    if (values[key] === undefined) continue;
    const time = utcTime(String(values[key]));
    if (!time) throw new Error(`--${key} must be a date and time such as 2026-05-01T09:30:00Z`);
    times[key] = time;
  }
  return {
    ...(values.user ? { user: String(values.user) } : {}),
    ...(values.agent ? { agent: String(values.agent) } : {}),
    ...(values.tool ? { target: String(values.tool) } : {}),
    ...(outcome ? { outcome: outcome as AuditOutcome } : {}),
    ...times,
    ...(limit ? { limit } : {}),
  };
}

export const AUDIT_OPTIONS = {
  user: { type: 'string' },
  agent: { type: 'string' },
  tool: { type: 'string' },
  outcome: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  store: { type: 'string' },
  postgres: { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * The traces among `events` whose events (all of them, not only those listed) have more than one
 * initiator: a line of such a trace must not read as one person's.
 */
async function mixedTraces(reader: AuditReader, events: readonly AuditEvent[]): Promise<Set<string>> {
  const traceIds = [...new Set(events.map((event) => event.trace_id))];
  if (traceIds.length === 0) return new Set();
  const initiators = new Map<string, Set<string>>();
  for (const event of await reader.query({ traceIds })) {
    const seen = initiators.get(event.trace_id) ?? new Set<string>();
    seen.add(JSON.stringify([event.initiator.tenant, event.initiator.sub]));
    initiators.set(event.trace_id, seen);
  }
  return new Set([...initiators].filter(([, seen]) => seen.size > 1).map(([traceId]) => traceId));
}

/**
 * Audit fields are chosen by callers (tool names, client ids, subjects): control characters in them
 * must not reach a terminal, where an escape sequence could rewrite what the reviewer sees.
 */
function terminalSafe(text: string): string {
  return text.replace(
    /[^\n\x20-\x7e\xa0-\u{10ffff}]/gu,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Runs `baton audit …` against a reader; returns what to print. */
export async function auditCommand(args: string[], reader: AuditReader): Promise<string> {
  const { values, positionals } = parseArgs({ args, options: AUDIT_OPTIONS, allowPositionals: true });
  const [subcommand, argument] = positionals;
  switch (subcommand) {
    case 'trace': {
      if (!argument) throw new Error('baton audit trace needs a trace id');
      return terminalSafe(renderTraceTree(await reader.query({ traceId: argument })));
    }
    case 'list': {
      const events = await reader.query(queryFrom(values));
      const mixed = await mixedTraces(reader, events);
      const text = events
        .map(
          (event) =>
            `${event.time}  ${event.outcome.padEnd(6)}  ${event.action.padEnd(14)}  ${event.target.name}  user=${event.initiator.sub}  ` +
            `agent=${event.agent.client_id}  mode=${event.delegation_mode}  trace=${event.trace_id}${event.reason ? `  reason=${event.reason}` : ''}` +
            revocationText(event) +
            (mixed.has(event.trace_id) ? '  ! MIXED-INITIATORS' : ''),
        )
        .join('\n')
        .concat(events.length ? '\n' : '');
      return terminalSafe(text);
    }
    case 'export':
      return (await reader.query(queryFrom(values))).map((event) => `${JSON.stringify(event)}\n`).join('');
    default:
      throw new Error(AUDIT_USAGE);
  }
}
