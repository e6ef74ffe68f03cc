import { type BoundaryAccess, openedFrom } from './request-context.ts';
import { scopesCover } from './scopes.ts';
import { sdkCallContext } from './sdk-call-context.ts';
import type { DeclaredItem, SurfaceRegistry } from './surface-registry.ts';

/**
 * Whether `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list` follow the
 * caller's identity: `hide` lists an item the boundary registered only when the caller's token covers
 * its declared scopes; `show` lists every item (using one still needs the scopes).
 */
export type ListFiltering = 'hide' | 'show';

type RequestHandler = (request: unknown, context: unknown) => Promise<unknown>;

/** The list methods filtered, and `completion/complete`, which would otherwise name a hidden item's arguments. */
const FILTERED_METHODS = [
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'prompts/list',
  'completion/complete',
] as const;
type FilteredMethod = (typeof FILTERED_METHODS)[number];

/** Handlers this module installed: a server is wrapped once, however often the boundary registers on it. */
const installed = new WeakSet<RequestHandler>();

/**
 * Makes `server`'s list handlers follow the caller's identity: each list the SDK builds is filtered
 * down to what the caller's scopes cover (`scopesCover`, the one scope check). Items registered
 * without the boundary declare no scopes and stay listed. A request the boundary did not authenticate
 * sees none of the boundary's items. Called after each registration, since the SDKs install a list
 * handler with the first item of its kind.
 *
 * The hook is the SDK's request-handler table (`McpServer.server._requestHandlers`, the same in SDK v1
 * and v2): the stored handler is wrapped, not replaced, so the SDK still builds the list (schemas,
 * metadata, template list callbacks). A server without that table is refused at registration rather
 * than left listing everything.
 * @internal not exported from the package.
 */
export function filterListsByIdentity(
  server: unknown,
  access: BoundaryAccess,
  registry: SurfaceRegistry,
): void {
  const handlers = requestHandlersOf(server);
  if (!handlers) {
    throw new TypeError(
      "listFiltering 'hide': this MCP server's request handlers cannot be reached (an SDK v1 or v2 McpServer is expected); set listFiltering: 'show' to list every item",
    );
  }
  for (const method of FILTERED_METHODS) {
    const original = handlers.get(method);
    if (!original || installed.has(original)) continue;
    const wrapped: RequestHandler = async (request, context) => {
      const result = await original(request, context);
      const opened = openedFrom(access, sdkCallContext(context).authInfo);
      const visible = (item: DeclaredItem | undefined) =>
        item === undefined ||
        (opened !== undefined && scopesCover(opened.claims.scopes, item.scopes, opened.settings.scopes));
      return filtered(method, request, result, registry, visible);
    };
    installed.add(wrapped);
    handlers.set(method, wrapped);
  }
}

function filtered(
  method: FilteredMethod,
  request: unknown,
  result: unknown,
  registry: SurfaceRegistry,
  visible: (item: DeclaredItem | undefined) => boolean,
): unknown {
  const list = result as Record<string, unknown>;
  const keep = <T>(key: string, itemOf: (entry: T) => DeclaredItem | undefined) =>
    Array.isArray(list?.[key])
      ? privateToCaller({ ...list, [key]: (list[key] as T[]).filter((entry) => visible(itemOf(entry))) })
      : result;
  switch (method) {
    case 'tools/list':
      return keep<{ name: string }>('tools', (tool) => registry.tool(tool.name));
    case 'resources/list':
      return keep<{ uri: string }>('resources', (resource) => registry.resource(resource.uri));
    case 'resources/templates/list':
      return keep<{ name: string }>('resourceTemplates', (template) => registry.template(template.name));
    case 'prompts/list':
      return keep<{ name: string }>('prompts', (prompt) => registry.prompt(prompt.name));
    case 'completion/complete': {
      // Completing a hidden prompt's or template's arguments would show it exists: nothing is offered.
      const ref = (request as { params?: { ref?: { type?: string; name?: string; uri?: string } } })?.params
        ?.ref;
      const item =
        ref?.type === 'ref/prompt' && typeof ref.name === 'string'
          ? registry.prompt(ref.name)
          : ref?.type === 'ref/resource' && typeof ref.uri === 'string'
            ? registry.templateOfUriTemplate(ref.uri)
            : undefined;
      return visible(item) ? result : { completion: { values: [], total: 0, hasMore: false } };
    }
  }
}

/**
 * A list filtered for one caller must not be cached for another. On MCP 2026-07-28 a list result is
 * cacheable (`ttlMs`, `cacheScope`); SDK v2 fills them from the server's `cacheHints` through a
 * symbol-keyed hint on the result. When a hint (or a handler's own `cacheScope`) is there, a
 * handler-authored `cacheScope: 'private'` overrides it, so a configured `public` never reaches a
 * shared cache; without one the SDK's default is already `private`, and nothing is added.
 */
function privateToCaller(list: Record<string, unknown>): Record<string, unknown> {
  const hinted = list.cacheScope !== undefined || Object.getOwnPropertySymbols(list).length > 0;
  return hinted ? { ...list, cacheScope: 'private' } : list;
}

/** The request-handler table of an SDK v1 or v2 `McpServer` (or of a low-level `Server`). */
function requestHandlersOf(server: unknown): Map<string, RequestHandler> | undefined {
  const low = (server as { server?: unknown })?.server ?? server;
  const handlers = (low as { _requestHandlers?: unknown })?._requestHandlers;
  return handlers instanceof Map ? (handlers as Map<string, RequestHandler>) : undefined;
}
