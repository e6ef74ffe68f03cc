import { declareScimResources, type ScimRequestContext } from './resources.ts';
import type { ScimStore } from './scim-store.ts';
import type { SubjectLifecycle } from './subject-lifecycle.ts';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** Largest request body accepted (RFC 7644 §3.12 `413`). */
export const SCIM_MAX_BODY_BYTES = 1_048_576;
const RETRIES = 5;

/** Who the SCIM request's bearer token belongs to, or `undefined` when it is missing, invalid, expired or revoked. */
export type ScimAuthenticator = (request: Request) => Promise<{ clientId: string } | undefined>;

export interface ScimServiceOptions {
  /** Where the service answers: `<issuer>/scim/v2`. Resource locations are built from it. */
  baseUrl: string;
  store: ScimStore;
  /** The broker's revocation model (see `SubjectLifecycle`). */
  lifecycle: SubjectLifecycle;
  /**
   * Verifies the request's OAuth bearer access token (one the broker issued). Whether the client may
   * use SCIM is decided here, by `approvedClients`, not by the authenticator.
   */
  authenticate: ScimAuthenticator;
  /** The operator-approved SCIM clients (`client_id`s); any other authenticated client gets 403. */
  approvedClients: readonly string[];
  /** A failure that is not the client's (store, revocation model), never sent to the client. */
  onError?: (error: unknown) => void;
  /** Unix seconds now. Default the system clock. */
  now?: () => number;
}

export type ScimService = (request: Request) => Promise<Response>;

const ROUTE = /^\/(Users|Groups)(?:\/([^/]+))?$/;
const DISCOVERY = /^\/(ServiceProviderConfig|ResourceTypes|Schemas)(?:\/([^/]+))?$/;

/**
 * A SCIM 2.0 service provider (RFC 7643, RFC 7644) for Users and Groups, runtime-neutral (web `Request`
 * in, `Response` out), built on scimmy for the schemas, filters, PATCH and error messages. Its
 * effects on the broker: a user deactivated or deleted disables the person's subject; a user activated
 * again lifts it; a person removed from a group has the tokens issued before now revoked.
 *
 * Only an authenticated, operator-approved client may call it: 401 with a `WWW-Authenticate: Bearer`
 * challenge without a valid token, 403 for any other client. Not offered: `/Bulk`, `/.search`, `/Me`,
 * `If-Match` (ETags are informational), sorting and filtering beyond what scimmy evaluates in memory.
 *
 * @example
 * const scim = createScimService({ baseUrl: `${issuer}/scim/v2`, store: new MemoryScimStore(),
 *   lifecycle, authenticate, approvedClients: ['hr-provisioning'] });
 * const response = await scim(new Request(`${issuer}/scim/v2/Users`, { headers }));
 */
export function createScimService(options: ScimServiceOptions): ScimService {
  if (typeof options?.authenticate !== 'function') throw new TypeError('scim: authenticate is required');
  if (!options.store) throw new TypeError('scim: store is required');
  if (typeof options.lifecycle?.revoke !== 'function' || typeof options.lifecycle.lift !== 'function') {
    throw new TypeError('scim: lifecycle must have revoke and lift');
  }
  if (!Array.isArray(options.approvedClients) || options.approvedClients.length === 0) {
    throw new TypeError('scim: approvedClients must name at least one client');
  }
  const base = new URL(options.baseUrl);
  const basePath = base.pathname.replace(/\/$/, '');
  const approved = new Set(options.approvedClients);
  const onError = options.onError ?? (() => {});
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const SCIMMY = declareScimResources();

  return async function scim(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.slice(basePath.length) || '/';
    let caller: { clientId: string } | undefined;
    try {
      caller = await options.authenticate(request);
    } catch (error) {
      onError(error);
      return scimError(500, undefined, 'The request could not be authenticated');
    }
    if (!caller) {
      const presented = /^bearer\s/i.test(request.headers.get('authorization') ?? '');
      return scimError(401, undefined, 'A valid bearer access token is required', {
        'www-authenticate': presented ? 'Bearer realm="scim", error="invalid_token"' : 'Bearer realm="scim"',
      });
    }
    if (!approved.has(caller.clientId)) {
      return scimError(403, undefined, 'This client is not approved for SCIM provisioning');
    }

    try {
      const discovery = DISCOVERY.exec(path);
      if (discovery) {
        if (request.method !== 'GET') return scimError(405, undefined, 'Method not allowed');
        const [, endpoint, id] = discovery;
        const Resource = SCIMMY.Resources[
          endpoint === 'ResourceTypes'
            ? 'ResourceType'
            : endpoint === 'Schemas'
              ? 'Schema'
              : 'ServiceProviderConfig'
        ] as unknown as new (
          ...args: unknown[]
        ) => { read(): Promise<unknown> };
        return scimJson(200, await new Resource(...(id ? [decoded(id)] : [])).read(), base);
      }
      const route = ROUTE.exec(path);
      if (!route) return scimError(404, undefined, `No SCIM endpoint at ${path}`);
      const [, endpoint, rawId] = route;
      const id = rawId ? decoded(rawId) : undefined;
      const Resource = (endpoint === 'Users'
        ? SCIMMY.Resources.User
        : SCIMMY.Resources.Group) as unknown as new (
        ...args: unknown[]
      ) => ScimmyResource;
      const body = await bodyOf(request);

      for (let attempt = 1; ; attempt++) {
        const ctx: ScimRequestContext = {
          store: options.store,
          lifecycle: options.lifecycle,
          actor: caller.clientId,
          now,
          readVersions: new Map(),
          conflict: false,
        };
        try {
          return await answer(request.method, Resource, id, url.searchParams, body, ctx, base, endpoint!);
        } catch (error) {
          if (ctx.failure !== undefined) onError(ctx.failure);
          if (ctx.conflict && attempt < RETRIES) continue;
          throw error;
        }
      }
    } catch (error) {
      return errorResponse(error, SCIMMY, onError);
    }
  };
}

/** A path segment, percent-decoded; one that does not decode names no resource (404). */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BodyRefused(404, undefined, 'No such resource');
  }
}

interface ScimmyResource {
  read(ctx?: unknown): Promise<unknown>;
  write(instance: unknown, ctx?: unknown): Promise<unknown>;
  patch(message: unknown, ctx?: unknown): Promise<unknown>;
  dispose(ctx?: unknown): Promise<void>;
}

async function answer(
  method: string,
  Resource: new (...args: unknown[]) => ScimmyResource,
  id: string | undefined,
  query: URLSearchParams,
  body: Body,
  ctx: ScimRequestContext,
  base: URL,
  endpoint: string,
): Promise<Response> {
  const params = queryOf(query);
  const resource = () => (id ? new Resource(id, params) : new Resource(params));
  switch (method) {
    case 'GET':
      return scimJson(200, await resource().read(ctx), base);
    case 'POST': {
      if (id) return scimError(404, undefined, 'POST creates at the collection, not at a resource');
      const created = (await resource().write(body(), ctx)) as { id: string };
      return scimJson(201, created, base, {
        location: `${base.href.replace(/\/$/, '')}/${endpoint}/${created.id}`,
      });
    }
    case 'PUT':
      if (!id) return scimError(404, undefined, 'PUT replaces a resource, not the collection');
      return scimJson(200, await resource().write(body(), ctx), base);
    case 'PATCH': {
      if (!id) return scimError(404, undefined, 'PATCH changes a resource, not the collection');
      const patched = await resource().patch(body(), ctx);
      return patched === undefined ? new Response(null, { status: 204 }) : scimJson(200, patched, base);
    }
    case 'DELETE':
      if (!id) return scimError(404, undefined, 'DELETE removes a resource, not the collection');
      await resource().dispose(ctx);
      return new Response(null, { status: 204 });
    default:
      return scimError(405, undefined, 'Method not allowed');
  }
}

/** RFC 7644 §3.4.2 query parameters, numbers as numbers (scimmy ignores string counts). */
function queryOf(query: URLSearchParams): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const name of ['filter', 'attributes', 'excludedAttributes', 'sortBy', 'sortOrder'] as const) {
    const value = query.get(name);
    if (value !== null) params[name] = value;
  }
  for (const name of ['startIndex', 'count'] as const) {
    const value = query.get(name);
    if (value !== null && /^-?\d+$/.test(value)) params[name] = Number(value);
  }
  return params;
}

type Body = () => unknown;

/** A request refused before scimmy sees it (body, path). */
class BodyRefused extends Error {
  readonly status: 400 | 404 | 413;
  readonly scimType: 'invalidSyntax' | undefined;
  constructor(status: 400 | 404 | 413, scimType: 'invalidSyntax' | undefined, detail: string) {
    super(detail);
    this.status = status;
    this.scimType = scimType;
  }
}

/** The request's JSON body (`application/scim+json` or `application/json`), read at most once and bounded. */
async function bodyOf(request: Request): Promise<Body> {
  if (request.method !== 'POST' && request.method !== 'PUT' && request.method !== 'PATCH')
    return () => undefined;
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== SCIM_CONTENT_TYPE && type !== 'application/json') {
    throw new BodyRefused(400, 'invalidSyntax', `Content-Type must be ${SCIM_CONTENT_TYPE}`);
  }
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > SCIM_MAX_BODY_BYTES) throw new BodyRefused(413, undefined, 'Request body too large');
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > SCIM_MAX_BODY_BYTES) throw new BodyRefused(413, undefined, 'Request body too large');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BodyRefused(400, 'invalidSyntax', 'Request body is not valid JSON');
  }
  return () => structuredClone(parsed);
}

function errorResponse(
  error: unknown,
  SCIMMY: ReturnType<typeof declareScimResources>,
  onError: (error: unknown) => void,
) {
  if (error instanceof BodyRefused) return scimError(error.status, error.scimType, error.message);
  if (error instanceof SCIMMY.Types.Error) {
    const { status, scimType, message } = error as { status: number; scimType?: string; message: string };
    try {
      const message_ = new SCIMMY.Messages.ErrorResponse({ status, scimType, detail: message } as never);
      return new Response(JSON.stringify(message_), {
        status: Number(status),
        headers: { 'content-type': SCIM_CONTENT_TYPE },
      });
    } catch {
      // A status/scimType pair scimmy refuses: answered below as a plain SCIM error with that status.
      return scimError(Number(status) || 500, undefined, message);
    }
  }
  onError(error);
  return scimError(500, undefined, 'The request could not be completed');
}

/** The 413 for a body over `SCIM_MAX_BODY_BYTES`, as a SCIM error message. */
export function scimTooLarge(): Response {
  return scimError(413, undefined, 'Request body too large');
}

/** RFC 7644 §3.12 error message. */
function scimError(
  status: number,
  scimType: string | undefined,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({
      schemas: [ERROR_SCHEMA],
      status: String(status),
      ...(scimType ? { scimType } : {}),
      detail,
    }),
    { status, headers: { 'content-type': SCIM_CONTENT_TYPE, ...headers } },
  );
}

/** A SCIM resource or list, with `meta.location` made absolute under this instance's base URL. */
function scimJson(status: number, value: unknown, base: URL, headers: Record<string, string> = {}): Response {
  const prefix = base.href.replace(/\/$/, '');
  const json = JSON.parse(JSON.stringify(value), (key, item) =>
    key === 'location' && typeof item === 'string' && item.startsWith('/') ? `${prefix}${item}` : item,
  );
  const version = (json as { meta?: { version?: string } }).meta?.version;
  return new Response(JSON.stringify(json), {
    status,
    headers: { 'content-type': SCIM_CONTENT_TYPE, ...(version ? { etag: version } : {}), ...headers },
  });
}
