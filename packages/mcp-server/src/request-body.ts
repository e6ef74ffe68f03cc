import {
  DEFAULT_MAX_REQUEST_BODY_SIZE,
  isJsonContentType,
  readRequestBody,
} from '@modelcontextprotocol/server';
import { surfaceCallsIn } from './surface-requests.ts';

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
 * The `tools/call` requests in a JSON-RPC body (one message or a batch), with their `_meta`: the tool
 * calls among `surfaceCallsIn`, so the step-up challenge and the rate limits count what the audit does.
 */
export function toolCallsIn(
  parsedBody: unknown,
): Array<{ name: string; meta: Record<string, unknown> | undefined }> {
  return surfaceCallsIn(parsedBody)
    .filter((call) => call.kind === 'tool')
    .map((call) => ({ name: call.ref, meta: call.meta }));
}

/** The SDK's own limit on a JSON-RPC batch; the boundary refuses a longer one before reading it further. */
export const MAX_BATCH_SIZE = 100;

/** A 400 for a batch longer than the SDK would serve, before any per-message work (or audit) is done. */
export function oversizedBatchResponse(parsedBody: unknown): Response | undefined {
  if (!Array.isArray(parsedBody) || parsedBody.length <= MAX_BATCH_SIZE) return undefined;
  return jsonRpcError(400, -32600, `Invalid Request: a batch may hold at most ${MAX_BATCH_SIZE} messages`);
}
