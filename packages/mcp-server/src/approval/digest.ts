import { createHash } from 'node:crypto';

/** What an approval is bound to: exactly this call, for this person, through this agent, in this session. */
export interface ApprovalBinding {
  tool: string;
  /** The tool's whole input, as the client sent it. */
  input: unknown;
  agent: string;
  subject: string;
  session: string;
}

/**
 * The digest an approval is bound by: SHA-256 over the canonical JSON (keys sorted, no whitespace) of
 * tool, input, agent, subject and session, base64url. The retried call must produce the same digest:
 * another input, agent, person or session is another call, which this approval does not cover.
 *
 * @example
 * approvalDigest({ tool: 'create_order', input: { item: 'x', amount: 5000 }, agent, subject, session });
 */
export function approvalDigest(binding: ApprovalBinding): string {
  const canonical = canonicalJson([
    binding.tool,
    binding.input ?? null,
    binding.agent,
    binding.subject,
    binding.session,
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/** JSON with object keys sorted at every level (RFC 8785's ordering for the ASCII keys tools use). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}
