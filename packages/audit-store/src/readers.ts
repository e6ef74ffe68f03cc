import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AuditEvent, type AuditQuery, type AuditReader, selectEvents } from '@baton/audit';
import type pg from 'pg';
import { parseLog } from './line-format.ts';
import { querySql } from './postgres/query-sql.ts';
import { auditTables } from './postgres/schema.ts';
import { checkQuery } from './select-events.ts';

/**
 * Reads every writer's log in an embedded store directory without opening it for writing (no lock):
 * for the command line and the console while the services keep writing. Torn tails are ignored.
 * It does not verify the chain: use `verifyAuditLog` for that.
 *
 * @example
 * const reader = directoryAuditReader('.baton/audit');
 * const events = await reader.query({ traceId });
 */
export function directoryAuditReader(directory: string): AuditReader {
  return {
    async query(query: AuditQuery) {
      checkQuery(query);
      const files = (await readdir(directory).catch(() => [] as string[])).filter((name) =>
        name.endsWith('.audit.jsonl'),
      );
      const events: AuditEvent[] = [];
      for (const file of files.sort()) {
        for (const line of parseLog(await readFile(join(directory, file))).lines) {
          if (line.kind === 'record') events.push(line.record.event as unknown as AuditEvent);
        }
      }
      return selectEvents(events, query);
    },
  };
}

/** Reads the PostgreSQL audit table of a deployment (every writer), read-only. */
export function postgresAuditReader(pool: pg.Pool, options: { tablePrefix?: string } = {}): AuditReader {
  const { events } = auditTables(options.tablePrefix ?? 'baton_');
  return {
    async query(query: AuditQuery) {
      checkQuery(query);
      const { text, values } = querySql(events, query);
      const result = await pool.query<{ event: AuditEvent }>(text, values);
      return result.rows.map((row) => row.event);
    },
  };
}
