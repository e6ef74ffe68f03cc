import { readFileSync, writeFileSync } from 'node:fs';
import { canonicalJson, chainHash } from '../../src/index.ts';

export interface Line {
  seq?: number;
  prev?: string;
  hash?: string;
  event?: Record<string, unknown>;
  checkpoint?: { seq: number; hash: string; time: string; writer: string; kid: string };
  signature?: string;
}

/** A log file as parsed lines, for a test playing the attacker. */
export function readLines(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((text) => text.length > 0)
    .map((text) => JSON.parse(text) as Line);
}

export function writeLines(path: string, lines: Array<Line | string>): void {
  writeFileSync(
    path,
    lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join(''),
  );
}

/** Index in `lines` of the record with `seq`. */
export function indexOfSeq(lines: Line[], seq: number): number {
  const index = lines.findIndex((line) => line.seq === seq);
  if (index === -1) throw new Error(`no record with seq ${seq}`);
  return index;
}

/** What an attacker who knows the format computes for a forged record. */
export function rehash(line: Line): Line {
  return { ...line, hash: chainHash(line.prev!, canonicalJson(line.event), line.seq!) };
}
