import { type Finding, findPii } from './pii.ts';
import { type CheckedDlpPolicy, checkedDlpPolicy, type DlpAction, type DlpPolicy } from './policy.ts';
import { findSecrets } from './secrets.ts';

/** What DLP found in a result, for the audit event: detectors and counts, never a value or an offset. */
export interface DlpFindings {
  action: DlpAction;
  /** Findings per detector, e.g. `{ 'secret.github': 1, card: 2 }`. */
  findings: Record<string, number>;
}

/** A result after DLP: what to send, and what was found (undefined when nothing was). */
export interface DlpScan<T> {
  /** The result to send: the same object when nothing was found or the action is `audit`. */
  result: T | BlockedResult;
  /** True when the action is `block` and something was found: `result` is the error result. */
  blocked: boolean;
  dlp: DlpFindings | undefined;
}

/** What a blocked tool result becomes. */
export type BlockedResult = {
  isError: true;
  content: [{ type: 'text'; text: string }];
};

/** Binary payloads (base64) are not text: not scanned. */
const BINARY_KEYS: ReadonlySet<string> = new Set(['blob', 'data']);
/** Protocol vocabulary, never content. */
const SKIPPED_KEYS: ReadonlySet<string> = new Set(['type', 'mimeType', 'role', 'isError']);
/** Separates the strings of a result in the text the detectors read: no detector matches across it. */
const SEPARATOR = '\n\u0000\n';

/**
 * Scans every string a result carries (tool `content` text, embedded resources' `text`,
 * `structuredContent`, `_meta`; equally a `resources/read` or `prompts/get` result), and every integer
 * of 12 digits or more (a card number sent as a JSON number), for secrets and
 * personal data, and applies the policy: `redact` returns a copy with each finding replaced by
 * `[REDACTED:<detector>]` (the original is not changed), `block` returns a tool error result naming
 * the detectors and counts, `audit` returns the result as it was. Base64 payloads (`blob`, image and
 * audio `data`) are not scanned.
 *
 * For a result that is not a tool's (a resource's or a prompt's), `blocked` tells the caller to answer
 * with an error instead (e.g. throw a JSON-RPC error with `blockedMessage(scan.dlp)`).
 *
 * @example
 * const scan = await scanResult(result, { action: 'redact' });
 * if (scan.dlp) audit({ dlp: scan.dlp });
 * return scan.result;
 */
export async function scanResult<T>(result: T, policy: DlpPolicy | CheckedDlpPolicy): Promise<DlpScan<T>> {
  const checked = 'pii' in policy ? policy : checkedDlpPolicy(policy, 'scanResult');
  const leaves: string[] = [];
  collect(result, leaves);
  if (leaves.length === 0) return { result, blocked: false, dlp: undefined };
  const text = leaves.length === 1 ? leaves[0]! : leaves.join(SEPARATOR);
  const found = findPii(text, checked.pii);
  if (checked.secrets) for (const finding of await findSecrets(text)) found.push(finding);
  if (found.length === 0) return { result, blocked: false, dlp: undefined };
  const findings = counted(found);
  const dlp: DlpFindings = { action: checked.action, findings };
  if (checked.action === 'audit') return { result, blocked: false, dlp };
  if (checked.action === 'block') {
    return {
      result: { isError: true, content: [{ type: 'text', text: blockedMessage(dlp) }] },
      blocked: true,
      dlp,
    };
  }
  const redacted = redactLeaves(leaves, found);
  let next = 0;
  return { result: rebuild(result, () => redacted[next++]!) as T, blocked: false, dlp };
}

/** Findings per detector; overlapping findings of one detector (two patterns, one number) count once. */
function counted(found: Finding[]): Record<string, number> {
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const findings: Record<string, number> = {};
  const reach = new Map<string, number>();
  for (const { detector, start, end } of found) {
    if ((reach.get(detector) ?? -1) > start) continue;
    reach.set(detector, end);
    findings[detector] = (findings[detector] ?? 0) + 1;
  }
  return findings;
}

/** The error text of a blocked result: detectors and counts, never what they found. */
export function blockedMessage(dlp: DlpFindings): string {
  const named = Object.entries(dlp.findings)
    .map(([detector, count]) => `${detector} (${count})`)
    .join(', ');
  return `this result was withheld by data loss prevention: it contained ${named}`;
}

/** The string leaves of `value`, in the order `rebuild` visits them. */
function collect(value: unknown, leaves: string[]): void {
  if (typeof value === 'string') {
    leaves.push(value);
  } else if (isLongInteger(value)) {
    // A card number sent as a JSON number is still a card number.
    leaves.push(String(value));
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, leaves);
  } else if (typeof value === 'object' && value !== null) {
    for (const [name, child] of Object.entries(value)) {
      if (!skipped(name, child)) collect(child, leaves);
    }
  }
}

/** A copy of `value` with each string leaf replaced by `next()`; objects without leaves are shared. */
function rebuild(value: unknown, next: () => string): unknown {
  if (typeof value === 'string') return next();
  if (isLongInteger(value)) {
    // Stays a number unless something in it was redacted.
    const redacted = next();
    return redacted === String(value) ? value : redacted;
  }
  if (Array.isArray(value)) return value.map((item) => rebuild(item, next));
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(value)) {
      copy[name] = skipped(name, child) ? child : rebuild(child, next);
    }
    return copy;
  }
  return value;
}

/** An integer long enough to be an identifier (12 digits or more): scanned as its decimal text. */
function isLongInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) >= 1e11;
}

function skipped(name: string, child: unknown): boolean {
  return typeof child === 'string' && (SKIPPED_KEYS.has(name) || BINARY_KEYS.has(name));
}

/**
 * Each leaf with its findings replaced. A finding's offsets are in the joined text; one that overlaps
 * another is merged with it (the replacement names the first detector).
 */
function redactLeaves(leaves: readonly string[], found: Finding[]): string[] {
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Finding[] = [];
  for (const finding of found) {
    const last = merged.at(-1);
    if (last && finding.start < last.end) {
      if (finding.end > last.end) merged[merged.length - 1] = { ...last, end: finding.end };
    } else merged.push(finding);
  }
  const out: string[] = [];
  let offset = 0;
  let cursor = 0;
  for (const leaf of leaves) {
    const end = offset + leaf.length;
    let text = '';
    let at = offset;
    while (cursor < merged.length && merged[cursor]!.start < end) {
      const finding = merged[cursor]!;
      const start = Math.max(finding.start, offset);
      text += `${leaf.slice(at - offset, start - offset)}[REDACTED:${finding.detector}]`;
      at = Math.min(finding.end, end);
      if (finding.end > end) break; // continues into the next leaf
      cursor++;
    }
    out.push(text + leaf.slice(at - offset));
    offset = end + SEPARATOR.length;
    // A finding that spanned the separator: the next leaf starts inside it.
    if (cursor < merged.length && merged[cursor]!.end <= offset) cursor++;
  }
  return out;
}

/**
 * A thrown error's message after DLP (the SDK sends it to the client as the tool's error text): the
 * same error when nothing was found or the action is `audit`, otherwise a plain `Error` with the
 * message redacted or replaced by `blockedMessage`.
 */
export async function scanThrown(
  error: unknown,
  policy: CheckedDlpPolicy,
): Promise<{ error: unknown; dlp: DlpFindings | undefined }> {
  const message = error instanceof Error ? error.message : undefined;
  if (!message) return { error, dlp: undefined };
  const scan = await scanResult({ message }, policy);
  if (!scan.dlp || policy.action === 'audit') return { error, dlp: scan.dlp };
  const text = scan.blocked ? blockedMessage(scan.dlp) : (scan.result as { message: string }).message;
  return { error: new Error(text), dlp: scan.dlp };
}
