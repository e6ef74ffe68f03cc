import { type AuditEvent, type AuditQuery, matchesQuery } from '@baton/audit';

/** Rejects a query stores could answer differently (a non-string field, a bad `limit`) before any store does. */
export function checkQuery(query: AuditQuery): void {
  if (query === null || typeof query !== 'object') throw new TypeError('query must be an AuditQuery object');
  for (const field of ['traceId', 'user', 'agent', 'target', 'outcome', 'since', 'until'] as const) {
    if (query[field] !== undefined && typeof query[field] !== 'string') {
      throw new TypeError(`query.${field} must be a string`);
    }
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
    throw new TypeError('query.limit must be a non-negative integer');
  }
}

/**
 * The events `query` selects (by `matchesQuery`, the one shared definition), oldest first by `time`
 * with stored order breaking ties; with `limit`, the newest `limit` of them, still oldest first.
 */
export function selectEvents(events: Iterable<AuditEvent>, query: AuditQuery): AuditEvent[] {
  const matches: AuditEvent[] = [];
  for (const event of events) if (matchesQuery(event, query)) matches.push(event);
  // Array#sort is stable, so equal times keep their chain order.
  matches.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  if (query.limit === undefined) return matches;
  return query.limit === 0 ? [] : matches.slice(-query.limit);
}
