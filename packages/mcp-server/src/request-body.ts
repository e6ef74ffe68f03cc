import {
  DEFAULT_MAX_REQUEST_BODY_SIZE,
  isJsonContentType,
  readRequestBody,
} from '@modelcontextprotocol/server';

/** The JSON-RPC body of a request, read once, or the answer when it cannot be read. */
export type BodyReading = { parsedBody: unknown } | { response: Response };

/**
 * Reads and parses a JSON POST body once, so the boundary can see which tools a request calls before
 * dispatch and the SDK gets the parsed body (`parsedBody`) instead of reading the stream again. A body
 * the host already parsed (Express `express.json()`, Hono `createMcpHonoApp()`) is taken as it is.
 * Anything that is not a JSON POST is left unread for the SDK to answer. The answers for a body that is
 * too large or not JSON are the SDK's own (JSON-RPC error shapes, 413 and 400).
 */
export async function readJsonRpcBody(
  request: Request,
  parsedBody: unknown,
  maxBytes: number = DEFAULT_MAX_REQUEST_BODY_SIZE,
): Promise<BodyReading> {
  if (parsedBody !== undefined) return { parsedBody };
  if (request.method !== 'POST' || !request.body || !isJsonContentType(request.headers.get('content-type')))
    return { parsedBody: undefined };
  const read = await readRequestBody(request, maxBytes);
  if (read.tooLarge) {
    return { response: jsonRpcError(413, -32000, 'Payload Too Large', { connection: 'close' }) };
  }
  try {
    return { parsedBody: JSON.parse(read.text) };
  } catch {
    return { response: jsonRpcError(400, -32700, 'Parse error: Invalid JSON') };
  }
}

function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}) {
  return Response.json({ jsonrpc: '2.0', error: { code, message }, id: null }, { status, headers });
}

/**
 * The `tools/call` requests in a JSON-RPC body (one message or a batch), with their `_meta`. Only
 * well-formed requests count (`jsonrpc: "2.0"`, an `id` the SDK would answer): a notification or a
 * malformed message is never dispatched, so it must not draw a step-up challenge or an audit record.
 */
export function toolCallsIn(
  parsedBody: unknown,
): Array<{ name: string; meta: Record<string, unknown> | undefined }> {
  const messages = Array.isArray(parsedBody) ? parsedBody : [parsedBody];
  const calls: Array<{ name: string; meta: Record<string, unknown> | undefined }> = [];
  for (const message of messages) {
    if (!isRecord(message) || message.jsonrpc !== '2.0' || message.method !== 'tools/call') continue;
    if (typeof message.id !== 'string' && typeof message.id !== 'number') continue;
    if (!isRecord(message.params)) continue;
    const { name, _meta } = message.params;
    if (typeof name === 'string') calls.push({ name, meta: isRecord(_meta) ? _meta : undefined });
  }
  return calls;
}

/** The SDK's own limit on a JSON-RPC batch; the boundary refuses a longer one before reading it further. */
export const MAX_BATCH_SIZE = 100;

/** A 400 for a batch longer than the SDK would serve, before any per-message work (or audit) is done. */
export function oversizedBatchResponse(parsedBody: unknown): Response | undefined {
  if (!Array.isArray(parsedBody) || parsedBody.length <= MAX_BATCH_SIZE) return undefined;
  return jsonRpcError(400, -32600, `Invalid Request: a batch may hold at most ${MAX_BATCH_SIZE} messages`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
