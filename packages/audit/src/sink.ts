import type { AuditEvent, AuditOutcome } from './event.ts';

/**
 * Where audit events go. `write` resolves once the event is as durable as the sink promises; a sink
 * that cannot record an event must reject, never drop it silently, so the caller can apply its
 * declared failure policy.
 */
export interface AuditSink {
  write(event: AuditEvent): Promise<void>;
}

/** Which events to read back; every field narrows, none means everything. Times are RFC 3339. */
export interface AuditQuery {
  traceId?: string;
  /** Any of these traces: one read for a page of traces instead of one per trace. */
  traceIds?: readonly string[];
  /** The initiator's `sub`. */
  user?: string;
  /** The agent's client id. */
  agent?: string;
  /** The target's name (tool, API operation or audience). */
  target?: string;
  outcome?: AuditOutcome;
  since?: string;
  until?: string;
  /** Newest first when limited. Default: all, oldest first. */
  limit?: number;
}

/** Reads events back, for the CLI and the console. Results are ordered by time, oldest first. */
export interface AuditReader {
  query(query: AuditQuery): Promise<AuditEvent[]>;
}

/** Keeps events in memory, in order: for tests and for a demo that prints them. */
export class MemoryAuditSink implements AuditSink, AuditReader {
  readonly events: AuditEvent[] = [];

  async write(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }

  async query(query: AuditQuery): Promise<AuditEvent[]> {
    return selectEvents(this.events, query);
  }
}

/** The one definition of what a query selects, shared by every reader. */
export function matchesQuery(event: AuditEvent, query: AuditQuery): boolean {
  return (
    (query.traceId === undefined || event.trace_id === query.traceId) &&
    (query.traceIds === undefined || query.traceIds.includes(event.trace_id)) &&
    (query.user === undefined || event.initiator.sub === query.user) &&
    (query.agent === undefined || event.agent.client_id === query.agent) &&
    (query.target === undefined || event.target.name === query.target) &&
    (query.outcome === undefined || event.outcome === query.outcome) &&
    (query.since === undefined || event.time >= query.since) &&
    (query.until === undefined || event.time <= query.until)
  );
}

/**
 * The events `query` selects (by `matchesQuery`), oldest first by `time` with stored order breaking
 * ties; with `limit`, the newest `limit` of them, still oldest first: what every reader returns.
 */
export function selectEvents(events: Iterable<AuditEvent>, query: AuditQuery): AuditEvent[] {
  const matches: AuditEvent[] = [];
  for (const event of events) if (matchesQuery(event, query)) matches.push(event);
  // Array#sort is stable, so equal times keep their stored (chain) order.
  matches.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  if (query.limit === undefined) return matches;
  return query.limit === 0 ? [] : matches.slice(-query.limit);
}

/** Writes every event to each sink; rejects if any sink rejects (after all were tried). */
export function fanOut(...sinks: AuditSink[]): AuditSink {
  return {
    async write(event) {
      const results = await Promise.allSettled(sinks.map((sink) => sink.write(event)));
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
