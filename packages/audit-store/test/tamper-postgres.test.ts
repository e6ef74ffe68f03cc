import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import {
  type AuditLogProblem,
  canonicalJson,
  chainHash,
  PostgresAuditStore,
  verifyAuditLog,
} from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { postgresTestRun } from './helpers/postgres.ts';

const { pool, tablePrefix, directory } = postgresTestRun('tpg');

const WRITER = 'api-1';

describe('tamper detection: PostgreSQL table', () => {
  let prefix: string;
  let table: string;
  let rows: Array<{ seq: number; prev: string; hash: string; id: string; event: Record<string, unknown> }>;
  let pinned: unknown;

  beforeEach(async () => {
    prefix = tablePrefix();
    table = `${prefix}audit_events`;
    const outbox = directory('tpg');
    const store = await PostgresAuditStore.open({
      pool,
      tablePrefix: prefix,
      outboxDirectory: outbox,
      writer: WRITER,
      checkpointEvery: 5,
    });
    for (let i = 0; i < 20; i++) await store.write(makeEvent());
    pinned = store.checkpointKey;
    await store.close();
    rows = (await pool.query(`SELECT seq, prev, hash, id, event FROM ${table} ORDER BY seq`)).rows.map(
      (row) => ({
        ...row,
        seq: Number(row.seq),
      }),
    );
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: WRITER })).ok, true);
  });

  const verify = async () => {
    const report = await verifyAuditLog({ pool, tablePrefix: prefix, writer: WRITER });
    assert.equal(report.ok, false);
    return report.problems;
  };
  const only = (problems: AuditLogProblem[]) => {
    assert.equal(problems.length, 1, JSON.stringify(problems, null, 2));
    return problems[0]!;
  };
  const row = (seq: number) => rows.find((each) => each.seq === seq)!;

  it('an altered event field (jsonb): altered, at its seq and event id', async () => {
    await pool.query(
      `UPDATE ${table} SET event = jsonb_set(event, '{scopes}', '["orders:admin"]') WHERE seq = 7`,
    );
    const problem = only(await verify());
    assert.equal(problem.kind, 'altered');
    assert.equal(problem.seq, 7);
    assert.equal(problem.eventId, row(7).id);
  });

  it('a query column edited alone (queries would lie): altered, naming the column', async () => {
    await pool.query(`UPDATE ${table} SET initiator_sub = 'mallory' WHERE seq = 7`);
    const problem = only(await verify());
    assert.equal(problem.kind, 'altered');
    assert.equal(problem.seq, 7);
    assert.match(problem.detail, /initiator_sub/);
  });

  it('a deleted row: deleted, naming the missing seq', async () => {
    await pool.query(`DELETE FROM ${table} WHERE seq = 7`);
    const problem = only(await verify());
    assert.equal(problem.kind, 'deleted');
    assert.equal(problem.seq, 7);
    assert.match(problem.detail, /seq 7 is missing between seq 6 and seq 8/);
  });

  /** Inserts a well-formed row whose hash links to `prev`, as a forger with table access would. */
  async function insertForgedRow(seq: number, prev: string) {
    const event = { ...makeEvent(), id: randomUUID() };
    const json = canonicalJson(event);
    await pool.query(
      `INSERT INTO ${table} (writer, seq, prev, hash, id, time, trace_id, initiator_sub, agent_client_id, target_name, outcome, event)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)`,
      [
        WRITER,
        seq,
        prev,
        chainHash(prev, json, seq),
        event.id,
        event.time,
        event.trace_id,
        'alice',
        'client-1',
        'orders.list',
        'ok',
        json,
      ],
    );
    return event;
  }

  it('an inserted row linked into the middle of the chain: inserted, at its seq with its event id', async () => {
    const event = await insertForgedRow(21, row(5).hash);
    const problem = only(await verify());
    assert.equal(problem.kind, 'inserted');
    assert.equal(problem.seq, 21);
    assert.equal(problem.eventId, event.id);
  });

  it('an inserted row taking an existing seq (key constraint dropped first): inserted, the forged one', async () => {
    await pool.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_pkey`);
    const event = await insertForgedRow(8, row(7).hash);
    const problem = only(await verify());
    assert.equal(problem.kind, 'inserted');
    assert.equal(problem.seq, 8);
    assert.equal(problem.eventId, event.id);
  });

  it('two rows reordered (their seq swapped): reordered, both', async () => {
    await pool.query(`UPDATE ${table} SET seq = -1 WHERE seq = 7`);
    await pool.query(`UPDATE ${table} SET seq = 7 WHERE seq = 8`);
    await pool.query(`UPDATE ${table} SET seq = 8 WHERE seq = -1`);
    const problems = await verify();
    assert.deepEqual(
      problems.map((problem) => [problem.kind, problem.seq, problem.eventId]),
      [
        ['reordered', 7, row(8).id],
        ['reordered', 8, row(7).id],
      ],
    );
  });

  it('a history rewritten from seq 7 on (hashes recomputed): checkpoint_mismatch at each later checkpoint', async () => {
    let prev = row(6).hash;
    for (const each of rows.filter((r) => r.seq >= 7)) {
      const event = each.seq === 7 ? { ...each.event, outcome: 'denied' } : each.event;
      const hash = chainHash(prev, canonicalJson(event), each.seq);
      await pool.query(
        `UPDATE ${table} SET prev = $2, hash = $3, event = $4::jsonb, outcome = $5 WHERE seq = $1`,
        [each.seq, prev, hash, JSON.stringify(event), event.outcome],
      );
      prev = hash;
    }
    assert.deepEqual(
      (await verify()).map((problem) => [problem.kind, problem.seq]),
      [
        ['checkpoint_mismatch', 10],
        ['checkpoint_mismatch', 15],
        ['checkpoint_mismatch', 20],
      ],
    );
  });

  it('a checkpoint whose signature does not verify: signature_invalid, at its seq', async () => {
    await pool.query(
      `UPDATE ${prefix}audit_checkpoints SET signature = overlay(signature placing (CASE WHEN left(signature, 1) = 'A' THEN 'B' ELSE 'A' END) from 1 for 1) WHERE seq = 10`,
    );
    const problem = only(await verify());
    assert.equal(problem.kind, 'signature_invalid');
    assert.equal(problem.seq, 10);
  });

  it('a checkpoint signed by a key the verifier does not trust: signature_invalid', async () => {
    await pool.query(`DELETE FROM ${prefix}audit_keys`);
    const problems = await verify();
    assert.ok(problems.length > 0);
    assert.ok(problems.every((problem) => problem.kind === 'signature_invalid'));
  });

  it('a database owner who rewrites history and re-signs every checkpoint with a new key: caught by pinned keys', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = attacker.publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    const kid = createHash('sha256')
      .update(JSON.stringify({ crv: 'P-256', kty: 'EC', x: jwk.x, y: jwk.y }))
      .digest('base64url');
    let prev = row(6).hash;
    const hashes = new Map<number, string>();
    for (const each of rows.filter((r) => r.seq >= 7)) {
      const event = each.seq === 7 ? { ...each.event, outcome: 'denied' } : each.event;
      const hash = chainHash(prev, canonicalJson(event), each.seq);
      await pool.query(
        `UPDATE ${table} SET prev = $2, hash = $3, event = $4::jsonb, outcome = $5 WHERE seq = $1`,
        [each.seq, prev, hash, JSON.stringify(event), event.outcome],
      );
      hashes.set(each.seq, hash);
      prev = hash;
    }
    const { rows: checkpoints } = await pool.query(`SELECT seq, hash, time FROM ${prefix}audit_checkpoints`);
    for (const checkpoint of checkpoints) {
      const seq = Number(checkpoint.seq);
      const body = {
        seq,
        hash: hashes.get(seq) ?? checkpoint.hash,
        time: checkpoint.time,
        writer: WRITER,
        kid,
      };
      const signature = sign('sha256', Buffer.from(canonicalJson(body)), {
        key: attacker.privateKey,
        dsaEncoding: 'ieee-p1363',
      }).toString('base64url');
      await pool.query(
        `UPDATE ${prefix}audit_checkpoints SET hash = $2, kid = $3, signature = $4 WHERE seq = $1`,
        [seq, body.hash, kid, signature],
      );
    }
    await pool.query(`DELETE FROM ${prefix}audit_keys`);
    await pool.query(`INSERT INTO ${prefix}audit_keys (kid, jwk) VALUES ($1, $2)`, [
      kid,
      JSON.stringify({ ...jwk, kid }),
    ]);
    // Trusting the keys stored next to the data, the forgery is consistent: this is what pinning is for.
    assert.equal((await verifyAuditLog({ pool, tablePrefix: prefix, writer: WRITER })).ok, true);
    const report = await verifyAuditLog({ pool, tablePrefix: prefix, writer: WRITER, trustedKeys: [pinned] });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((problem) => [problem.kind, problem.seq]),
      [
        ['signature_invalid', 5],
        ['signature_invalid', 10],
        ['signature_invalid', 15],
        ['signature_invalid', 20],
      ],
    );
  });
});
