import type { ToolCallLimited } from './tool-limits.ts';

/**
 * The answer to a request over a rate limit: HTTP 429 (RFC 6585 §4) with `Retry-After` (RFC 9110
 * §10.2.3), before the request reaches the MCP server. The body is a JSON-RPC error for the request
 * (`id` as sent, `null` for a batch), so a client that shows the body shows why; it names the limit
 * and the tool, nothing about other callers.
 */
export function rateLimitedResponse(limited: ToolCallLimited, parsedBody: unknown): Response {
  const id = !Array.isArray(parsedBody) && isIdentified(parsedBody) ? parsedBody.id : null;
  const message = `rate limit reached (${limited.limit === 'tool' ? `tool ${limited.tool}` : `per ${limited.limit}`}): retry after ${limited.retryAfterSeconds} seconds`;
  return Response.json(
    {
      jsonrpc: '2.0',
      id,
      error: { code: RATE_LIMITED_CODE, message, data: { retryAfterSeconds: limited.retryAfterSeconds } },
    },
    { status: 429, headers: { 'retry-after': String(limited.retryAfterSeconds) } },
  );
}

/** JSON-RPC's implementation-defined server error range (-32000 to -32099): MCP defines no rate-limit code. */
export const RATE_LIMITED_CODE = -32029;

function isIdentified(value: unknown): value is { id: string | number } {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number';
}
