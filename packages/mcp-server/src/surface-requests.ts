import type { SurfaceKind } from './surface-audit.ts';

/** One use of the surface a JSON-RPC body asks for: which kind, naming what, with its `_meta`. */
export interface SurfaceCall {
  readonly kind: SurfaceKind;
  /** The tool's or prompt's name, or the resource URI asked for. */
  readonly ref: string;
  readonly meta: Record<string, unknown> | undefined;
}

const KIND_OF_METHOD: Record<string, { kind: SurfaceKind; param: 'name' | 'uri' }> = {
  'tools/call': { kind: 'tool', param: 'name' },
  'resources/read': { kind: 'resource', param: 'uri' },
  'prompts/get': { kind: 'prompt', param: 'name' },
};

/**
 * The `tools/call`, `resources/read` and `prompts/get` requests in a JSON-RPC body (one message or a
 * batch), with their `_meta`. Only well-formed requests count (`jsonrpc: "2.0"`, an `id` the SDK would
 * answer), as `toolCallsIn` counts them: a notification or a malformed message is never dispatched, so
 * it must not draw a step-up challenge or an audit record.
 */
export function surfaceCallsIn(parsedBody: unknown): SurfaceCall[] {
  const messages = Array.isArray(parsedBody) ? parsedBody : [parsedBody];
  const calls: SurfaceCall[] = [];
  for (const message of messages) {
    if (!isRecord(message) || message.jsonrpc !== '2.0' || typeof message.method !== 'string') continue;
    const method = Object.hasOwn(KIND_OF_METHOD, message.method) ? KIND_OF_METHOD[message.method] : undefined;
    if (!method) continue;
    if (typeof message.id !== 'string' && typeof message.id !== 'number') continue;
    if (!isRecord(message.params)) continue;
    const { _meta } = message.params;
    const ref = message.params[method.param];
    if (typeof ref === 'string')
      calls.push({ kind: method.kind, ref, meta: isRecord(_meta) ? _meta : undefined });
  }
  return calls;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
