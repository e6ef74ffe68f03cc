import type { KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import { chainHash } from './chain-hash.ts';
import { checkpointSignatureValid } from './checkpoint-signer.ts';
import type { ChainRecord, CheckpointLine } from './line-format.ts';

export type AuditLogProblemKind =
  | 'altered'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'checkpoint_mismatch'
  | 'signature_invalid'
  | 'torn_line';

/** One finding, with where it is: `seq` and `eventId` when known, `line` (1-based) for files. */
export interface AuditLogProblem {
  kind: AuditLogProblemKind;
  seq?: number;
  eventId?: string;
  line?: number;
  detail: string;
}

export interface AuditVerifyReport {
  /** True when there is no problem at all. */
  ok: boolean;
  /** Event records read. */
  events: number;
  /** Checkpoints read. */
  checkpoints: number;
  problems: AuditLogProblem[];
}

/** A record and where it is stored: its line in a file, or `undefined` for a table row. */
export interface Located<T> {
  line?: number;
  value: T;
}

export interface ChainInput {
  /** Records in stored order (file order; for a table, by seq). */
  records: Array<Located<ChainRecord>>;
  checkpoints: Array<Located<CheckpointLine>>;
  /** Findings made while reading (malformed lines, torn tail). */
  problems: AuditLogProblem[];
  /** Where this stretch of the chain starts: `{ seq: 0, hash: GENESIS_HASH }` for a whole log. */
  base: { seq: number; hash: string };
  writer: string;
  keys: Map<string, KeyObject>;
}

/**
 * Verifies one writer's chain and says where it breaks. Tampering shows up as follows:
 * - altered: a record no longer hashes to its `hash` (or, if the hash was recomputed, the next record no
 *   longer links to it; a signed checkpoint over it no longer matches either);
 * - deleted: a gap in `seq` (or a signed checkpoint beyond the last record: the tail was cut);
 * - inserted: a second record claiming a seq the chain already has, or one linking to the wrong place;
 * - reordered: records stored out of seq order, or two records' positions swapped;
 * - checkpoint_mismatch / signature_invalid: a checkpoint that disagrees with the chain or is not signed
 *   by a known key.
 */
export function verifyChain(input: ChainInput): AuditVerifyReport {
  const { records, base } = input;
  const problems = [...input.problems];
  const at = (index: number | undefined) => (index === undefined ? undefined : records[index]);
  const describe = (index: number | undefined) => {
    const located = at(index);
    if (!located) return `the start (seq ${base.seq})`;
    return located.line !== undefined
      ? `line ${located.line} (seq ${located.value.seq})`
      : `seq ${located.value.seq}`;
  };
  const report = (kind: AuditLogProblemKind, index: number | undefined, detail: string) => {
    const located = at(index);
    const eventId = located?.value.event.id;
    problems.push({
      kind,
      ...(located ? { seq: located.value.seq } : {}),
      ...(typeof eventId === 'string' ? { eventId } : {}),
      ...(located?.line !== undefined ? { line: located.line } : {}),
      detail,
    });
  };

  const selfOk = records.map(
    ({ value }) => chainHash(value.prev, canonicalJson(value.event), value.seq) === value.hash,
  );
  const byHash = new Map<string, number>();
  records.forEach(({ value }, index) => {
    byHash.set(value.hash, index);
  });

  // Group by seq; records at or below the base are not part of this stretch of the chain.
  const bySeq = new Map<number, number[]>();
  records.forEach(({ value }, index) => {
    if (value.seq <= base.seq) {
      report(
        'inserted',
        index,
        `${describe(index)} is at or before the start of this chain (seq ${base.seq})`,
      );
      return;
    }
    const list = bySeq.get(value.seq);
    if (list) list.push(index);
    else bySeq.set(value.seq, [index]);
  });
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);

  // One record per seq: where several claim it, keep the one that hashes, links back, and is linked to.
  const chosen = new Map<number, number>();
  for (const seq of seqs) {
    const candidates = bySeq.get(seq)!;
    if (candidates.length === 1) {
      chosen.set(seq, candidates[0]!);
      continue;
    }
    const previous = chosen.get(seq - 1);
    const previousHash =
      previous !== undefined ? records[previous]!.value.hash : seq - 1 === base.seq ? base.hash : undefined;
    const next = bySeq.get(seq + 1) ?? [];
    const score = (index: number) =>
      (selfOk[index] ? 2 : 0) +
      (records[index]!.value.prev === previousHash ? 1 : 0) +
      (next.some((n) => records[n]!.value.prev === records[index]!.value.hash) ? 1 : 0);
    let best = candidates[0]!;
    for (const index of candidates) if (score(index) > score(best)) best = index;
    chosen.set(seq, best);
    for (const index of candidates) {
      if (index !== best) {
        report(
          'inserted',
          index,
          `${describe(index)} duplicates seq ${seq}; the chain runs through ${describe(best)}`,
        );
      }
    }
  }

  // Records that do not hash: either two records traded places (each hashes at the other's seq), or altered.
  const flagged = new Set<number>();
  const failing = seqs.map((seq) => chosen.get(seq)!).filter((index) => !selfOk[index]);
  for (const index of failing) {
    const record = records[index]!.value;
    const json = canonicalJson(record.event);
    // Pairwise, so only for a handful: a mass rewrite is reported as altered without the search.
    const partner =
      failing.length > MAX_SWAP_SEARCH
        ? undefined
        : failing.find((other) => {
            if (other === index) return false;
            const target = records[other]!.value;
            return (
              chainHash(record.prev, json, target.seq) === record.hash ||
              chainHash(target.prev, json, target.seq) === target.hash
            );
          });
    if (partner !== undefined) {
      report(
        'reordered',
        index,
        `${describe(index)} holds the record of seq ${records[partner]!.value.seq}: the two were swapped`,
      );
    } else {
      report('altered', index, `${describe(index)} does not match its hash: its content was changed`);
    }
    flagged.add(index);
  }

  // Walk the chain in seq order: gaps are deletions; a broken link is a rewritten or a misplaced record.
  let previousSeq = base.seq;
  let previousHash = base.hash;
  let previousIndex: number | undefined;
  for (const seq of seqs) {
    const index = chosen.get(seq)!;
    const record = records[index]!.value;
    if (seq > previousSeq + 1) {
      const first = previousSeq + 1;
      const last = seq - 1;
      problems.push({
        kind: 'deleted',
        seq: first,
        ...(records[index]!.line !== undefined ? { line: records[index]!.line } : {}),
        detail: `${first === last ? `seq ${first} is` : `seq ${first}–${last} (${last - first + 1} records) are`} missing between ${describe(previousIndex)} and ${describe(index)}`,
      });
    } else if (
      record.prev !== previousHash &&
      !flagged.has(index) &&
      (previousIndex === undefined || !flagged.has(previousIndex))
    ) {
      const linked = byHash.get(record.prev);
      if (linked !== undefined && linked !== previousIndex) {
        report(
          'inserted',
          index,
          `${describe(index)} links to ${describe(linked)}, not to seq ${seq - 1}: it was added`,
        );
        flagged.add(index);
      } else if (previousIndex !== undefined) {
        report(
          'altered',
          previousIndex,
          `${describe(index)} does not link to ${describe(previousIndex)}: seq ${previousSeq} was rewritten with a recomputed hash`,
        );
      } else {
        report('altered', index, `${describe(index)} does not link to the start of the chain`);
      }
    }
    previousSeq = seq;
    previousHash = record.hash;
    previousIndex = index;
  }

  // Stored order must follow seq order; records off the longest in-order run were moved.
  const inSeqOrder = seqs.map((seq) => chosen.get(seq)!);
  const withLines = inSeqOrder.filter((index) => records[index]!.line !== undefined);
  const kept = longestIncreasing(withLines.map((index) => records[index]!.line!));
  withLines.forEach((index, position) => {
    if (kept.has(position) || flagged.has(index)) return;
    const record = records[index]!.value;
    const before = chosen.get(record.seq - 1);
    const after = chosen.get(record.seq + 1);
    report(
      'reordered',
      index,
      `${describe(index)} is out of order${before !== undefined ? `: seq ${record.seq - 1} is at ${describe(before)}` : ''}${after !== undefined ? `, seq ${record.seq + 1} at ${describe(after)}` : ''}`,
    );
  });

  // Checkpoints: signed by a known key, for this writer, and agreeing with the chain at their seq.
  const lastSeq = seqs.length > 0 ? seqs[seqs.length - 1]! : base.seq;
  let tailCut = false;
  for (const { line, value } of input.checkpoints) {
    const { checkpoint } = value;
    const where = line !== undefined ? `checkpoint at line ${line}` : `checkpoint at seq ${checkpoint.seq}`;
    const position = {
      seq: checkpoint.seq,
      ...(line !== undefined ? { line } : {}),
    };
    const key = input.keys.get(checkpoint.kid);
    if (!key || !checkpointSignatureValid(value, key)) {
      problems.push({
        kind: 'signature_invalid',
        ...position,
        detail: key
          ? `${where}: the signature does not verify`
          : `${where}: signed by unknown key ${checkpoint.kid}`,
      });
      continue;
    }
    if (checkpoint.writer !== input.writer) {
      problems.push({
        kind: 'checkpoint_mismatch',
        ...position,
        detail: `${where} is for writer ${checkpoint.writer}, not ${input.writer}`,
      });
      continue;
    }
    if (checkpoint.seq > lastSeq) {
      if (!tailCut) {
        tailCut = true;
        problems.push({
          kind: 'deleted',
          seq: lastSeq + 1,
          ...(line !== undefined ? { line } : {}),
          detail: `${where} covers seq ${checkpoint.seq} but the chain ends at seq ${lastSeq}: records were removed from the end`,
        });
      }
      continue;
    }
    if (checkpoint.seq < base.seq || checkpoint.seq === 0) continue;
    const expected =
      checkpoint.seq === base.seq
        ? base.hash
        : (() => {
            const index = chosen.get(checkpoint.seq);
            return index === undefined ? undefined : records[index]!.value.hash;
          })();
    if (expected !== undefined && expected !== checkpoint.hash) {
      const index = chosen.get(checkpoint.seq);
      const eventId = index !== undefined ? records[index]!.value.event.id : undefined;
      problems.push({
        kind: 'checkpoint_mismatch',
        ...position,
        ...(typeof eventId === 'string' ? { eventId } : {}),
        detail: `${where} signed hash ${checkpoint.hash.slice(0, 12)}… for seq ${checkpoint.seq}, the chain has ${expected.slice(0, 12)}…: history up to it was rewritten`,
      });
    }
  }

  return {
    ok: problems.length === 0,
    events: records.length,
    checkpoints: input.checkpoints.length,
    problems,
  };
}

/** Above this many records that do not hash, swapped pairs are not searched for (the search is quadratic). */
const MAX_SWAP_SEARCH = 256;

/** Positions (into `values`) of one longest strictly increasing subsequence, O(n log n). */
function longestIncreasing(values: number[]): Set<number> {
  const tails: number[] = [];
  const parent: number[] = new Array(values.length).fill(-1);
  for (let i = 0; i < values.length; i++) {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (values[tails[middle]!]! < values[i]!) low = middle + 1;
      else high = middle;
    }
    if (low > 0) parent[i] = tails[low - 1]!;
    tails[low] = i;
  }
  const kept = new Set<number>();
  for (let i = tails.length > 0 ? tails[tails.length - 1]! : -1; i !== -1; i = parent[i]!) kept.add(i);
  return kept;
}
