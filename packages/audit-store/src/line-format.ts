import { canonicalJson } from './canonical-json.ts';
import { HASH_PATTERN } from './chain-hash.ts';

/**
 * One event in the chain, as stored: a line `{"seq":…,"prev":…,"hash":…,"event":…}` in a file, or a
 * row in PostgreSQL. `event` is kept as parsed JSON; its canonical text is what `hash` covers.
 */
export interface ChainRecord {
  seq: number;
  prev: string;
  hash: string;
  event: Record<string, unknown>;
}

/** What a checkpoint signs: the chain's head at `seq`, by whom, when, and with which key. */
export interface CheckpointBody {
  seq: number;
  hash: string;
  time: string;
  writer: string;
  /** RFC 7638 thumbprint of the signing key's public JWK. */
  kid: string;
}

/** A line `{"checkpoint":{…},"signature":"…"}`: base64url ES256 (P-1363) over the body's canonical JSON. */
export interface CheckpointLine {
  checkpoint: CheckpointBody;
  signature: string;
}

/** The line for a record: fixed member order, canonical event text, newline-terminated. */
export function encodeRecordLine(seq: number, prev: string, hash: string, eventJson: string): string {
  return `{"seq":${seq},"prev":"${prev}","hash":"${hash}","event":${eventJson}}\n`;
}

export function encodeCheckpointLine(line: CheckpointLine): string {
  return `{"checkpoint":${canonicalJson(line.checkpoint)},"signature":${JSON.stringify(line.signature)}}\n`;
}

/** One complete line of a log file, classified. `line` is 1-based. */
export type ParsedLine =
  | { kind: 'record'; line: number; record: ChainRecord }
  | { kind: 'checkpoint'; line: number; checkpoint: CheckpointLine }
  | { kind: 'malformed'; line: number; problem: 'altered' | 'inserted'; detail: string };

export interface ParsedLog {
  lines: ParsedLine[];
  /** Byte length of the complete (newline-terminated) lines: where a torn tail is cut. */
  completeBytes: number;
  /** Bytes after the last newline: a line a crash cut short. Never acknowledged, so never an event. */
  tornBytes: number;
}

const NEWLINE = 0x0a;

/**
 * Splits a log file into lines. Only newline-terminated lines count: a write is acknowledged after the
 * whole line (newline included) is on disk, so anything after the last newline is a torn write.
 */
export function parseLog(bytes: Buffer): ParsedLog {
  const lines: ParsedLine[] = [];
  let start = 0;
  let number = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, start)) {
    number++;
    lines.push(parseLine(bytes.toString('utf8', start, at), number));
    start = at + 1;
  }
  return { lines, completeBytes: start, tornBytes: bytes.length - start };
}

function parseLine(text: string, line: number): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'malformed', line, problem: 'altered', detail: `line ${line} is not valid JSON` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { kind: 'malformed', line, problem: 'inserted', detail: `line ${line} is not a log record` };
  }
  const object = value as Record<string, unknown>;
  if ('checkpoint' in object) {
    const checkpoint = asCheckpoint(object);
    return checkpoint
      ? { kind: 'checkpoint', line, checkpoint }
      : {
          kind: 'malformed',
          line,
          problem: 'altered',
          detail: `line ${line} is a malformed checkpoint`,
        };
  }
  // Without a seq or a hash it never was part of the chain (even if it carries an event): added.
  if (!('seq' in object) && !('hash' in object)) {
    return {
      kind: 'malformed',
      line,
      problem: 'inserted',
      detail: `line ${line} is not a chain record`,
    };
  }
  const record = asRecord(object);
  return record
    ? { kind: 'record', line, record }
    : { kind: 'malformed', line, problem: 'altered', detail: `line ${line} is a malformed record` };
}

/** A record's fields with their types checked; `undefined` if any is missing or of the wrong type. */
export function asRecord(object: Record<string, unknown>): ChainRecord | undefined {
  const { seq, prev, hash, event } = object;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return undefined;
  if (typeof prev !== 'string' || !HASH_PATTERN.test(prev)) return undefined;
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) return undefined;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return undefined;
  return { seq: seq as number, prev, hash, event: event as Record<string, unknown> };
}

function asCheckpoint(object: Record<string, unknown>): CheckpointLine | undefined {
  const { checkpoint, signature } = object;
  if (checkpoint === null || typeof checkpoint !== 'object' || typeof signature !== 'string')
    return undefined;
  const { seq, hash, time, writer, kid } = checkpoint as Record<string, unknown>;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return undefined;
  if (typeof hash !== 'string' || typeof time !== 'string') return undefined;
  if (typeof writer !== 'string' || typeof kid !== 'string') return undefined;
  return { checkpoint: { seq: seq as number, hash, time, writer, kid }, signature };
}
