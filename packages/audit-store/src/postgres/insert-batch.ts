import type { Pool } from 'pg';
import { AuditStoreError } from '../errors.ts';
import type { ChainRecord, CheckpointLine } from '../line-format.ts';
import type { AuditTables } from './schema.ts';

export interface RecordRow {
  record: ChainRecord;
  /** The canonical JSON the record's hash covers; stored as the jsonb event. */
  eventJson: string;
}

const text = (value: unknown) => value as string;

/**
 * Inserts outbox records (and checkpoints) in one statement each. `ON CONFLICT (writer, seq) DO
 * NOTHING` makes a repeated drain (after a crash, or a timeout whose insert did land) insert each
 * record exactly once. A skipped row must then be this very record: a different hash at the same
 * position means another chain already uses this writer name, which no retry can fix.
 */
export async function insertBatch(
  pool: Pool,
  tables: AuditTables,
  writer: string,
  rows: RecordRow[],
  checkpoints: CheckpointLine[],
): Promise<void> {
  if (rows.length > 0) {
    const events = rows.map((row) => row.record.event);
    const result = await pool.query<{ seq: string }>(
      `INSERT INTO ${tables.events}
         (writer, seq, prev, hash, id, time, trace_id, initiator_sub, agent_client_id, target_name, outcome, event)
       SELECT $1, u.seq, u.prev, u.hash, u.id, u.time, u.trace_id, u.sub, u.agent, u.target, u.outcome, u.event::jsonb
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::text[], $11::text[], $12::text[])
         AS u(seq, prev, hash, id, time, trace_id, sub, agent, target, outcome, event)
       ON CONFLICT (writer, seq) DO NOTHING
       RETURNING seq`,
      [
        writer,
        rows.map((row) => row.record.seq),
        rows.map((row) => row.record.prev),
        rows.map((row) => row.record.hash),
        events.map((event) => text(event.id)),
        events.map((event) => text(event.time)),
        events.map((event) => text(event.trace_id)),
        events.map((event) => text((event.initiator as Record<string, unknown>).sub)),
        events.map((event) => text((event.agent as Record<string, unknown>).client_id)),
        events.map((event) => text((event.target as Record<string, unknown>).name)),
        events.map((event) => text(event.outcome)),
        rows.map((row) => row.eventJson),
      ],
    );
    if (result.rows.length < rows.length) {
      const inserted = new Set(result.rows.map((row) => Number(row.seq)));
      const skipped = rows.filter((row) => !inserted.has(row.record.seq));
      const existing = await pool.query<{ seq: string; hash: string }>(
        `SELECT seq, hash FROM ${tables.events} WHERE writer = $1 AND seq = ANY($2::bigint[])`,
        [writer, skipped.map((row) => row.record.seq)],
      );
      const stored = new Map(existing.rows.map((row) => [Number(row.seq), row.hash]));
      const clash = skipped.find((row) => stored.get(row.record.seq) !== row.record.hash);
      if (clash) throw writerConflict(writer, clash.record.seq);
    }
  }
  if (checkpoints.length > 0) {
    await pool.query(
      `INSERT INTO ${tables.checkpoints} (writer, seq, hash, time, kid, signature)
       SELECT $1, u.seq, u.hash, u.time, u.kid, u.signature
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(seq, hash, time, kid, signature)
       ON CONFLICT (writer, seq) DO NOTHING`,
      [
        writer,
        checkpoints.map((line) => line.checkpoint.seq),
        checkpoints.map((line) => line.checkpoint.hash),
        checkpoints.map((line) => line.checkpoint.time),
        checkpoints.map((line) => line.checkpoint.kid),
        checkpoints.map((line) => line.signature),
      ],
    );
  }
}

export function writerConflict(writer: string, seq: number): AuditStoreError {
  return new AuditStoreError(
    'ERR_AUDIT_STORE_WRITER_CONFLICT',
    `PostgreSQL already holds a different record at seq ${seq} for writer ${writer}: another process uses this writer name, or this outbox is not the one that wrote it`,
  );
}
