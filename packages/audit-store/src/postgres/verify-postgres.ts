import type { Pool } from 'pg';
import { GENESIS_HASH } from '../chain-hash.ts';
import { keysByKid } from '../checkpoint-signer.ts';
import { asRecord, type ChainRecord, type CheckpointLine } from '../line-format.ts';
import { checkWriter } from '../options.ts';
import { type AuditLogProblem, type AuditVerifyReport, type Located, verifyChain } from '../verify-chain.ts';
import { type TrustedKeys, trustedKeyList } from '../verify-file.ts';
import { auditTables, TABLE_PREFIX } from './schema.ts';

export interface VerifyPostgresOptions {
  pool: Pool;
  tablePrefix?: string;
  writer: string;
  /** Checkpoint keys to trust. Default: the keys table, next to the data it vouches for; pin keys for more. */
  trustedKeys?: TrustedKeys;
}

type Event = Record<string, unknown>;
const field = (value: unknown, name: string) => (value as Event | null)?.[name];

/** The query columns and the event field each must equal. */
const COLUMNS: Record<string, (event: Event) => unknown> = {
  id: (event) => event.id,
  time: (event) => event.time,
  trace_id: (event) => event.trace_id,
  initiator_sub: (event) => field(event.initiator, 'sub'),
  agent_client_id: (event) => field(event.agent, 'client_id'),
  target_name: (event) => field(event.target, 'name'),
  outcome: (event) => event.outcome,
};

/**
 * Verifies one writer's chain as stored in PostgreSQL: rows by seq, each hashed again from its jsonb
 * event (canonical JSON is stable across jsonb's re-encoding), links, gaps, signed checkpoints, and
 * that every query column still equals the event field it was copied from. Events still in an outbox
 * are not in the table yet and not part of this check.
 */
export async function verifyPostgresAuditLog(options: VerifyPostgresOptions): Promise<AuditVerifyReport> {
  const prefix = options.tablePrefix ?? 'baton_';
  if (typeof prefix !== 'string' || !TABLE_PREFIX.test(prefix)) {
    throw new TypeError(`verifyAuditLog: tablePrefix must match ${TABLE_PREFIX}`);
  }
  const writer = checkWriter('verifyAuditLog', options.writer);
  const tables = auditTables(prefix);
  const rows = await options.pool.query<Record<string, unknown> & { seq: string }>(
    `SELECT seq, prev, hash, event, ${Object.keys(COLUMNS).join(', ')}
     FROM ${tables.events} WHERE writer = $1 ORDER BY seq`,
    [writer],
  );
  const checkpointRows = await options.pool.query<{
    seq: string;
    hash: string;
    time: string;
    kid: string;
    signature: string;
  }>(`SELECT seq, hash, time, kid, signature FROM ${tables.checkpoints} WHERE writer = $1 ORDER BY seq`, [
    writer,
  ]);
  const jwks =
    options.trustedKeys !== undefined
      ? trustedKeyList(options.trustedKeys)
      : (await options.pool.query<{ jwk: unknown }>(`SELECT jwk FROM ${tables.keys}`)).rows.map(
          (row) => row.jwk,
        );

  const problems: AuditLogProblem[] = [];
  const records: Array<Located<ChainRecord>> = [];
  for (const row of rows.rows) {
    const seq = Number(row.seq);
    const record = asRecord({ seq, prev: row.prev, hash: row.hash, event: row.event });
    if (!record) {
      problems.push({ kind: 'altered', seq, detail: `the row at seq ${seq} is malformed` });
      continue;
    }
    records.push({ value: record });
    // Queries read the columns, not the hashed event: a column edited alone would make them lie.
    for (const [column, read] of Object.entries(COLUMNS)) {
      if (row[column] === read(record.event)) continue;
      const eventId = record.event.id;
      problems.push({
        kind: 'altered',
        seq,
        ...(typeof eventId === 'string' ? { eventId } : {}),
        detail: `seq ${seq}: column ${column} disagrees with the hashed event`,
      });
    }
  }
  const checkpoints: Array<Located<CheckpointLine>> = checkpointRows.rows.map((row) => ({
    value: {
      checkpoint: { seq: Number(row.seq), hash: row.hash, time: row.time, writer, kid: row.kid },
      signature: row.signature,
    },
  }));
  return verifyChain({
    records,
    checkpoints,
    problems,
    base: { seq: 0, hash: GENESIS_HASH },
    writer,
    keys: keysByKid(jwks),
  });
}
