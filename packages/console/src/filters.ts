import type { AuditOutcome, AuditQuery } from '@baton/audit';

/** How many traces a list shows when the request does not say, and the most it may ask for. */
export const DEFAULT_TRACE_LIMIT = 50;
export const MAX_TRACE_LIMIT = 500;

/**
 * How many newest matching events are scanned to find the traces to list. Bounded so one request
 * cannot make the reader return the whole log; a trace's own page always reads all of its events.
 */
export const EVENT_SCAN_LIMIT = 2000;

const OUTCOMES: readonly AuditOutcome[] = ['ok', 'denied', 'error'];

/** The list's filters as the form holds them, ready to be written back into it. */
export interface FilterValues {
  user: string;
  agent: string;
  target: string;
  outcome: string;
  since: string;
  until: string;
  limit: string;
}

export interface TraceFilters {
  /** What to ask the reader for (every given filter narrows; the event scan is bounded). */
  query: AuditQuery;
  /** How many traces to list. */
  limit: number;
  values: FilterValues;
  /** Why a parameter was refused; the list is not read while there is one. */
  errors: string[];
}

/**
 * Maps the list's GET parameters onto an `AuditQuery`. Empty fields mean "any", so a submitted form
 * with blank inputs asks for everything; values are taken verbatim (exact match, as the reader does).
 */
export function parseFilters(params: URLSearchParams): TraceFilters {
  const values: FilterValues = {
    user: text(params, 'user'),
    agent: text(params, 'agent'),
    // `tool` is accepted as a synonym: most targets a reviewer looks for are tool names.
    target: text(params, 'target') || text(params, 'tool'),
    outcome: text(params, 'outcome'),
    since: text(params, 'since'),
    until: text(params, 'until'),
    limit: text(params, 'limit'),
  };
  const errors: string[] = [];
  const query: AuditQuery = {};
  if (values.user) query.user = values.user;
  if (values.agent) query.agent = values.agent;
  if (values.target) query.target = values.target;
  if (values.outcome) {
    if ((OUTCOMES as readonly string[]).includes(values.outcome))
      query.outcome = values.outcome as AuditOutcome;
    else errors.push(`outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  for (const bound of ['since', 'until'] as const) {
    if (!values[bound]) continue;
    const time = utcTime(values[bound]);
    if (time) query[bound] = time;
    else errors.push(`${bound} must be a date and time such as 2026-05-01T09:30:00Z`);
  }
  let limit = DEFAULT_TRACE_LIMIT;
  if (values.limit) {
    const parsed = Number(values.limit);
    if (Number.isInteger(parsed) && parsed >= 1 && parsed <= MAX_TRACE_LIMIT) limit = parsed;
    else errors.push(`limit must be a whole number from 1 to ${MAX_TRACE_LIMIT}`);
  }
  query.limit = EVENT_SCAN_LIMIT;
  return { query, limit, values, errors };
}

function text(params: URLSearchParams, name: string): string {
  return (params.get(name) ?? '').trim();
}

/**
 * A UTC RFC 3339 time, as events carry (`toISOString`), so the reader's string comparison holds.
 * A value without a zone (what a `datetime-local` input sends) is read as UTC rather than as the
 * server's local time, which a reviewer cannot see.
 */
export function utcTime(value: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(value))
    return undefined;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) && value.length > 10;
  const normalized = value.replace(' ', 'T');
  const withTime = normalized.length === 10 ? `${normalized}T00:00:00` : normalized;
  const date = new Date(hasZone ? withTime : `${withTime}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
