import type { AuditEvent } from '@baton/audit';
import { AuditStoreError } from './errors.ts';

/** The fields every store indexes or files by; each must be a string. */
const REQUIRED_STRINGS: ReadonlyArray<readonly [string, (event: AuditEvent) => unknown]> = [
  ['id', (event) => event.id],
  ['time', (event) => event.time],
  ['trace_id', (event) => event.trace_id],
  ['initiator.sub', (event) => event.initiator?.sub],
  ['agent.client_id', (event) => event.agent?.client_id],
  ['target.name', (event) => event.target?.name],
  ['outcome', (event) => event.outcome],
];

/**
 * Longest UTF-8 encoding of each field above. They are indexed in PostgreSQL (some two to an index
 * entry, with `time`), and a btree refuses an entry over 2704 bytes: an event over the limit could
 * never be inserted and would block the outbox behind it, so it is refused before it is written.
 * 2 × 1024 plus tuple overhead stays well under 2704 even if PostgreSQL cannot compress the entry.
 */
export const MAX_INDEXED_FIELD_BYTES = 1024;

/**
 * Refuses, before anything is written, an event that some store could not hold: both stores accept
 * exactly the same events, so switching stores never turns an accepted event into a stuck one. Strings
 * must be well-formed Unicode without U+0000 (PostgreSQL's jsonb cannot store either, and an event
 * that can never be inserted would block the outbox behind it).
 */
export function validateEvent(event: unknown): asserts event is AuditEvent {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw invalid('the audit event must be an object');
  }
  for (const [name, read] of REQUIRED_STRINGS) {
    const value = read(event as AuditEvent);
    if (typeof value !== 'string' || (name === 'id' && value.length === 0)) {
      throw invalid(`audit event field ${name} must be a ${name === 'id' ? 'non-empty ' : ''}string`);
    }
    // UTF-8 never takes more than 3 bytes per UTF-16 code unit: count bytes only when it could matter.
    if (
      value.length * 3 > MAX_INDEXED_FIELD_BYTES &&
      Buffer.byteLength(value, 'utf8') > MAX_INDEXED_FIELD_BYTES
    ) {
      throw invalid(`audit event field ${name} is longer than ${MAX_INDEXED_FIELD_BYTES} bytes (UTF-8)`);
    }
  }
  checkStrings(event, 'event', 0);
}

function checkStrings(value: unknown, path: string, depth: number): void {
  if (depth > 32) throw invalid(`audit event is nested too deeply at ${path}`);
  if (typeof value === 'string') {
    if (!value.isWellFormed() || value.includes('\u0000')) {
      throw invalid(`audit event ${path} holds U+0000 or an unpaired surrogate`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => {
      checkStrings(item, `${path}[${index}]`, depth + 1);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      checkStrings(key, `${path} key`, depth + 1);
      checkStrings(item, `${path}.${key}`, depth + 1);
    }
  }
}

function invalid(message: string): AuditStoreError {
  return new AuditStoreError('ERR_AUDIT_EVENT_INVALID', message);
}
