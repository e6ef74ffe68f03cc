import type { AuditQuery } from '@baton/audit';

/** Each `AuditQuery` field and the column it narrows, with the comparison `matchesQuery` uses. */
const FILTERS: ReadonlyArray<readonly [keyof AuditQuery, string, '=' | '>=' | '<=']> = [
  ['traceId', 'trace_id', '='],
  ['user', 'initiator_sub', '='],
  ['agent', 'agent_client_id', '='],
  ['target', 'target_name', '='],
  ['outcome', 'outcome', '='],
  ['since', 'time', '>='],
  ['until', 'time', '<='],
];

/**
 * The SQL for a query: every field narrows (as in `matchesQuery`; columns use `C` collation, so text
 * comparison is JavaScript's), oldest first by time then by chain position; with `limit`, the newest
 * `limit` rows, still returned oldest first.
 */
export function querySql(table: string, query: AuditQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const conditions: string[] = [];
  for (const [field, column, operator] of FILTERS) {
    const value = query[field];
    if (value === undefined) continue;
    values.push(value);
    conditions.push(`${column} ${operator} $${values.length}`);
  }
  if (query.traceIds !== undefined) {
    values.push(query.traceIds);
    conditions.push(`trace_id = ANY($${values.length}::text[])`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  if (query.limit === undefined) {
    return { text: `SELECT event FROM ${table} ${where} ORDER BY time, writer, seq`, values };
  }
  values.push(query.limit);
  return {
    text: `SELECT event FROM (
             SELECT event, time, writer, seq FROM ${table} ${where}
             ORDER BY time DESC, writer DESC, seq DESC LIMIT $${values.length}
           ) newest ORDER BY time, writer, seq`,
    values,
  };
}
