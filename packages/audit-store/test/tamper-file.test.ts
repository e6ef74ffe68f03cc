import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, beforeEach, describe, it } from 'node:test';
import { type AuditLogProblem, FileAuditStore, verifyAuditLog } from '../src/index.ts';
import { makeEvent } from './helpers/events.ts';
import { indexOfSeq, type Line, readLines, rehash, writeLines } from './helpers/log-lines.ts';
import { tempDirectory } from './helpers/postgres.ts';

const directories: Array<{ remove(): void }> = [];
after(() => {
  for (const created of directories) created.remove();
});

/** Line numbers are 1-based and count checkpoint lines too. */
const lineOf = (lines: Line[], seq: number) => indexOfSeq(lines, seq) + 1;

describe('tamper detection: file store', () => {
  let directory: string;
  let path: string;
  let lines: Line[];

  beforeEach(async () => {
    const created = tempDirectory('tamper');
    directories.push(created);
    directory = created.path;
    const store = await FileAuditStore.open({ directory, checkpointEvery: 5 });
    for (let i = 0; i < 20; i++) await store.write(makeEvent());
    await store.close();
    path = store.path;
    lines = readLines(path);
    assert.equal((await verifyAuditLog({ directory })).ok, true);
  });

  const verify = async () => {
    const report = await verifyAuditLog({ directory });
    assert.equal(report.ok, false);
    return report.problems;
  };
  const only = (problems: AuditLogProblem[]) => {
    assert.equal(problems.length, 1, JSON.stringify(problems, null, 2));
    return problems[0]!;
  };

  it('an altered event field: altered, at its seq, line and event id', async () => {
    const index = indexOfSeq(lines, 7);
    const target = lines[index]!;
    lines[index] = { ...target, event: { ...target.event, outcome: 'denied' } };
    writeLines(path, lines);
    assert.deepEqual(only(await verify()), {
      kind: 'altered',
      seq: 7,
      eventId: target.event!.id,
      line: index + 1,
      detail: `line ${index + 1} (seq 7) does not match its hash: its content was changed`,
    });
  });

  it('an altered event with its hash recomputed: the next link breaks there', async () => {
    const index = indexOfSeq(lines, 7);
    lines[index] = rehash({
      ...lines[index]!,
      event: { ...lines[index]!.event, initiator: { sub: 'mallory' } },
    });
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'altered');
    assert.equal(problem.seq, 7);
    assert.equal(problem.eventId, lines[index]!.event!.id);
  });

  it('a history rewritten from seq 7 on (every hash recomputed): only the signed checkpoints catch it', async () => {
    let prev: string | undefined;
    lines = lines.map((line) => {
      if (line.seq === undefined) return line;
      if (line.seq < 7) return line;
      const rewritten = rehash({
        ...line,
        prev: prev ?? line.prev!,
        event: line.seq === 7 ? { ...line.event, outcome: 'denied' } : line.event!,
      });
      prev = rewritten.hash;
      return rewritten;
    });
    writeLines(path, lines);
    const problems = await verify();
    assert.deepEqual(
      problems.map((problem) => [problem.kind, problem.seq]),
      [
        ['checkpoint_mismatch', 10],
        ['checkpoint_mismatch', 15],
        ['checkpoint_mismatch', 20],
      ],
    );
  });

  it('a deleted line: deleted, naming the missing seq and where', async () => {
    const index = indexOfSeq(lines, 7);
    lines.splice(index, 1);
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'deleted');
    assert.equal(problem.seq, 7);
    assert.match(problem.detail, /seq 7 is missing between line \d+ \(seq 6\) and line \d+ \(seq 8\)/);
  });

  it('lines cut from the end, after a checkpoint covered them: deleted', async () => {
    // Remove the events with seq 18–20, keep the final checkpoint (seq 20) that was signed on close.
    lines = lines.filter((line) => line.seq === undefined || line.seq < 18);
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'deleted');
    assert.equal(problem.seq, 18);
    assert.match(problem.detail, /covers seq 20 but the chain ends at seq 17/);
  });

  it('an inserted line (a forged record that links correctly): inserted, at its line, with its event id', async () => {
    const index = indexOfSeq(lines, 8);
    const previous = lines[index - 1]!;
    const forged = rehash({
      seq: 8,
      prev: previous.hash!,
      hash: '',
      event: { ...makeEvent({ initiator: { sub: 'mallory', tenant: null } }), id: randomUUID() },
    });
    lines.splice(index, 0, forged);
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'inserted');
    assert.equal(problem.eventId, forged.event!.id);
    assert.equal(problem.line, index + 1);
    assert.equal(problem.seq, 8);
  });

  it('an inserted line that is not a record at all: inserted, at its line', async () => {
    const index = indexOfSeq(lines, 8);
    lines.splice(index, 0, { event: makeEvent() } as unknown as Line);
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'inserted');
    assert.equal(problem.line, index + 1);
  });

  it('two lines swapped: reordered, naming the seq and both lines', async () => {
    const a = indexOfSeq(lines, 7);
    const b = indexOfSeq(lines, 8);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'reordered');
    assert.ok(problem.seq === 7 || problem.seq === 8);
    assert.match(problem.detail, new RegExp(`line (${a + 1}|${b + 1})`));
  });

  it('one line moved far away: reordered, the moved line (not its neighbours)', async () => {
    const index = indexOfSeq(lines, 3);
    const [moved] = lines.splice(index, 1);
    lines.push(moved!);
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'reordered');
    assert.equal(problem.seq, 3);
    assert.equal(problem.line, lines.length);
  });

  it('two events swapped between lines (seq/prev/hash left in place): reordered, both', async () => {
    const a = indexOfSeq(lines, 7);
    const b = indexOfSeq(lines, 8);
    const eventA = lines[a]!.event;
    lines[a] = { ...lines[a]!, event: lines[b]!.event! };
    lines[b] = { ...lines[b]!, event: eventA! };
    writeLines(path, lines);
    const problems = await verify();
    assert.deepEqual(
      problems.map((problem) => [problem.kind, problem.seq]),
      [
        ['reordered', 7],
        ['reordered', 8],
      ],
    );
  });

  it('a checkpoint whose signature does not verify: signature_invalid, at its line', async () => {
    const index = lines.findIndex((line) => line.checkpoint?.seq === 10);
    const signature = lines[index]!.signature!;
    lines[index] = {
      ...lines[index]!,
      signature: `${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`,
    };
    writeLines(path, lines);
    assert.deepEqual(only(await verify()), {
      kind: 'signature_invalid',
      seq: 10,
      line: index + 1,
      detail: `checkpoint at line ${index + 1}: the signature does not verify`,
    });
  });

  it('a checkpoint edited to match a rewritten chain: signature_invalid (the signature covers the hash)', async () => {
    const index = lines.findIndex((line) => line.checkpoint?.seq === 10);
    lines[index] = { ...lines[index]!, checkpoint: { ...lines[index]!.checkpoint!, hash: 'f'.repeat(64) } };
    writeLines(path, lines);
    const problem = only(await verify());
    assert.equal(problem.kind, 'signature_invalid');
    assert.equal(problem.line, lineOf(lines, 10) + 1);
  });

  it('a corrupted line in the middle: altered, at its line', async () => {
    const index = indexOfSeq(lines, 4);
    writeLines(
      path,
      lines.map((line, i) => (i === index ? '{"seq":4,"prev":"garbage' : line)),
    );
    const problems = await verify();
    assert.equal(problems[0]!.kind, 'altered');
    assert.equal(problems[0]!.line, index + 1);
  });
});
