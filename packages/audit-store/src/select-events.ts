import type { AuditQuery } from '@baton/audit';

/** Rejects a query stores could answer differently (a non-string field, a bad `limit`) before any store does. */
export function checkQuery(query: AuditQuery): void {
  if (query === null || typeof query !== 'object') throw new TypeError('query must be an AuditQuery object');
  for (const field of ['traceId', 'user', 'agent', 'target', 'outcome', 'since', 'until'] as const) {
    if (query[field] !== undefined && typeof query[field] !== 'string') {
      throw new TypeError(`query.${field} must be a string`);
    }
  }
  if (
    query.traceIds !== undefined &&
    (!Array.isArray(query.traceIds) || query.traceIds.some((id) => typeof id !== 'string'))
  ) {
    throw new TypeError('query.traceIds must be an array of strings');
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
    throw new TypeError('query.limit must be a non-negative integer');
  }
}
