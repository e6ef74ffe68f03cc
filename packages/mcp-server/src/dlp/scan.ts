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

/**
 * Keys of an MCP content item (or embedded resource, resource contents, prompt message) whose string
 * values are protocol vocabulary (`type`, `mimeType`, `role`) or base64 payloads (`data`, `blob`), not
 * text: not scanned there. Anywhere else (`structuredContent`, `_meta`, a tool's own objects) a string
 * under one of these names is scanned like any other.
 */
const PROTOCOL_KEYS: ReadonlySet<string> = new Set(['type', 'mimeType', 'role', 'data', 'blob']);
/** Separates the strings of a result in the text the detectors read: no detector matches across it. */
const SEPARATOR = '\n\u0000\n';

/**
 * Scans every string a result carries (tool `content` text, embedded resources' `text`,
 * `structuredContent`, `_meta`; equally a `resources/read` or `prompts/get` result), every object key,
 * and every integer of 12 digits or more (a card number sent as a JSON number), for secrets and
 * personal data, and applies the policy: `redact` returns a copy with each finding replaced by
 * `[REDACTED:<detector>]` (the original is not changed), `block` returns a tool error result naming
 * the detectors and counts, `audit` returns the result as it was. A finding in an object key is not
 * redacted (a renamed key would change the result's shape, and two could collide): under `redact` it
 * blocks the result instead, and the audit says `block`. Only inside MCP content items (the `content`,
 * `contents` and `messages` items, their embedded `resource` and a message's `content`) are the
 * protocol's own strings skipped: `type`, `mimeType`, `role`, and the base64 payloads `data` and `blob`.
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
  // What is scanned is what is sent: the SDK serialises the result with JSON.stringify, so a `toJSON`,
  // a boxed string, a URL, a getter or a Proxy goes out as its JSON text. Scanned (and answered) as
  // that plain copy; a result JSON cannot serialise is refused like any other failing scan.
  const sent = plainJson(result);
  const leaves: string[] = [];
  const keys = new Set<number>();
  collect(sent, 'result', leaves, keys);
  if (leaves.length === 0) return { result: sent, blocked: false, dlp: undefined };
  const text = leaves.length === 1 ? leaves[0]! : leaves.join(SEPARATOR);
  const found = findPii(text, checked.pii);
  if (checked.secrets) for (const finding of await findSecrets(text)) found.push(finding);
  if (found.length === 0) return { result: sent, blocked: false, dlp: undefined };
  const findings = counted(found);
  const dlp: DlpFindings = { action: checked.action, findings };
  if (checked.action === 'audit') return { result: sent, blocked: false, dlp };
  const redacted = checked.action === 'redact' ? redactLeaves(leaves, found) : undefined;
  // A secret used as a key is not renamed: the result is withheld (see above).
  const inKey = redacted !== undefined && [...keys].some((index) => redacted[index] !== leaves[index]);
  if (!redacted || inKey) {
    const blocked: DlpFindings = { action: 'block', findings };
    return {
      result: { isError: true, content: [{ type: 'text', text: blockedMessage(blocked) }] },
      blocked: true,
      dlp: blocked,
    };
  }
  let next = 0;
  return { result: rebuild(sent, 'result', () => redacted[next++]!) as T, blocked: false, dlp };
}

/** The result as JSON carries it (`undefined` stays `undefined`). */
function plainJson<T>(value: T): T {
  if (value === undefined) return value;
  return JSON.parse(JSON.stringify(value)) as T;
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

/**
 * Where a value sits in a result: the result itself, a list of MCP items, one MCP item (where the
 * protocol's own strings are skipped), or anything else (everything scanned).
 */
type Place = 'result' | 'items' | 'item' | 'other';

/** Where a child of `value` (at `place`) under `name` sits. */
function placeOf(place: Place, name: string, child: unknown): Place {
  const list = Array.isArray(child);
  if (place === 'result' && (name === 'content' || name === 'contents' || name === 'messages'))
    return list ? 'items' : 'other';
  if (place === 'item' && name === 'resource' && !list) return 'item';
  // A prompt message's `content`: one content item (or, leniently, a list of them).
  if (place === 'item' && name === 'content') return list ? 'items' : 'item';
  return 'other';
}

function skipped(place: Place, name: string, child: unknown): boolean {
  return place === 'item' && typeof child === 'string' && PROTOCOL_KEYS.has(name);
}

/** The string leaves of `value` (keys included, their indices in `keys`), in the order `rebuild` visits them. */
function collect(value: unknown, place: Place, leaves: string[], keys: Set<number>): void {
  if (typeof value === 'string') {
    leaves.push(value);
  } else if (isLongInteger(value)) {
    // A card number sent as a JSON number is still a card number.
    leaves.push(String(value));
  } else if (Array.isArray(value)) {
    const inner = place === 'items' ? 'item' : 'other';
    for (const item of value) collect(item, inner, leaves, keys);
  } else if (typeof value === 'object' && value !== null) {
    for (const [name, child] of Object.entries(value)) {
      // A key is text that leaves the server too.
      keys.add(leaves.length);
      leaves.push(name);
      if (!skipped(place, name, child)) collect(child, placeOf(place, name, child), leaves, keys);
    }
  }
}

/**
 * A copy of `value` with each string leaf replaced by `next()`; keys are kept (a result with a finding
 * in a key is blocked, never rebuilt).
 */
function rebuild(value: unknown, place: Place, next: () => string): unknown {
  if (typeof value === 'string') return next();
  if (isLongInteger(value)) {
    // Stays a number unless something in it was redacted.
    const redacted = next();
    return redacted === String(value) ? value : redacted;
  }
  if (Array.isArray(value)) {
    const inner = place === 'items' ? 'item' : 'other';
    return value.map((item) => rebuild(item, inner, next));
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(value)) {
      next(); // the key's leaf
      copy[name] = skipped(place, name, child) ? child : rebuild(child, placeOf(place, name, child), next);
    }
    return copy;
  }
  return value;
}

/** An integer long enough to be an identifier (12 digits or more): scanned as its decimal text. */
function isLongInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && Math.abs(value) >= 1e11;
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
 * A thrown error's message after DLP (the SDK sends it to the client as the tool's error text; for a
 * thrown non-`Error`, a string or a body, it sends `String(error)`, so that is scanned): the same error
 * when nothing was found or the action is `audit`, otherwise a plain `Error` with the message redacted
 * or replaced by `blockedMessage`.
 */
export async function scanThrown(
  error: unknown,
  policy: CheckedDlpPolicy,
): Promise<{ error: unknown; dlp: DlpFindings | undefined }> {
  // What the SDKs send of a thrown value: its `message` (whatever its type: a plain object with one
  // is sent as such), else `String(error)`; and for resources and prompts its `data` too.
  const carried =
    error !== null && typeof error === 'object' ? (error as { message?: unknown; data?: unknown }) : {};
  const message =
    error instanceof Error || typeof carried.message === 'string' ? String(carried.message) : textOf(error);
  const data = carried.data;
  if (!message && data === undefined) return { error, dlp: undefined };
  const scan = await scanResult({ message: message ?? '', ...(data !== undefined ? { data } : {}) }, policy);
  if (!scan.dlp || policy.action === 'audit') return { error, dlp: scan.dlp };
  // A fresh error: the message scanned, the `code` kept, the `data` (scanned with it) left behind.
  const text = scan.blocked ? blockedMessage(scan.dlp) : (scan.result as { message: string }).message;
  const replaced = new Error(text);
  if (typeof (carried as { code?: unknown }).code === 'number') {
    (replaced as Error & { code?: number }).code = (carried as { code: number }).code;
  }
  return { error: replaced, dlp: scan.dlp };
}

/** What `String(value)` gives, or undefined when it throws (then nothing of it can be sent either). */
function textOf(value: unknown): string | undefined {
  try {
    return String(value);
  } catch {
    return undefined;
  }
}

/**
 * Both scans' findings as one audit record: counts added, and `block` when either blocked.
 * @internal
 */
export function mergedFindings(
  a: DlpFindings | undefined,
  b: DlpFindings | undefined,
): DlpFindings | undefined {
  if (!a || !b) return a ?? b;
  const findings = { ...a.findings };
  for (const [detector, count] of Object.entries(b.findings))
    findings[detector] = (findings[detector] ?? 0) + count;
  return { action: a.action === 'block' || b.action === 'block' ? 'block' : a.action, findings };
}

/**
 * A progress message after DLP (it leaves the server too): the same text when nothing was found or
 * the action is `audit`, redacted under `redact`, and dropped (undefined) under `block`.
 */
export async function scanMessage(
  message: string,
  policy: CheckedDlpPolicy,
): Promise<{ message: string | undefined; dlp: DlpFindings | undefined }> {
  const scan = await scanResult({ message }, policy);
  if (!scan.dlp || policy.action === 'audit') return { message, dlp: scan.dlp };
  // A progress notification has no error form: a blocked message is simply not sent.
  const dlp: DlpFindings = { action: scan.blocked ? 'block' : scan.dlp.action, findings: scan.dlp.findings };
  return { message: scan.blocked ? undefined : (scan.result as { message: string }).message, dlp };
}
