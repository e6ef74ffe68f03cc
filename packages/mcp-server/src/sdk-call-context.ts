import type { AuthInfo } from '@modelcontextprotocol/server';

/** What a tool wrapper needs from the SDK's per-call context, whichever SDK major dispatched the call. */
export interface SdkCallContext {
  readonly authInfo: AuthInfo | undefined;
  readonly signal: AbortSignal;
  readonly meta: Record<string, unknown> | undefined;
  notify(notification: { method: string; params: Record<string, unknown> }): Promise<void>;
}

interface V2ServerContext {
  http?: { authInfo?: AuthInfo };
  mcpReq: {
    signal: AbortSignal;
    _meta?: Record<string, unknown>;
    notify(notification: unknown): Promise<void>;
  };
}

interface V1RequestHandlerExtra {
  authInfo?: AuthInfo;
  signal: AbortSignal;
  _meta?: Record<string, unknown>;
  sendNotification(notification: unknown): Promise<void>;
}

/**
 * Translates the handler context of SDK v2 (`ServerContext`: `http.authInfo`, `mcpReq`) or SDK v1
 * (`RequestHandlerExtra`: `authInfo`, `signal`, `sendNotification`) into one shape. Translation only:
 * whether the `AuthInfo` came from this boundary is decided by `BoundaryAccess.open`, for both.
 */
export function sdkCallContext(context: unknown): SdkCallContext {
  const v2 = context as Partial<V2ServerContext> | undefined;
  if (v2?.mcpReq && typeof v2.mcpReq === 'object') {
    const { mcpReq } = v2;
    return {
      authInfo: v2.http?.authInfo,
      signal: mcpReq.signal,
      meta: mcpReq._meta,
      notify: (notification) => mcpReq.notify(notification),
    };
  }
  const v1 = (context ?? {}) as Partial<V1RequestHandlerExtra>;
  return {
    authInfo: v1.authInfo,
    signal: v1.signal ?? new AbortController().signal,
    meta: v1._meta,
    notify: async (notification) => {
      await v1.sendNotification?.(notification);
    },
  };
}
