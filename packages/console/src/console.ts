import {
  type AuditReader,
  type AuditReason,
  type AuditSink,
  auditEvent,
  createLogger,
  newSpanId,
  newTraceId,
} from '@baton/audit';
import { refusalAnswer } from '@baton/core';
import type { Logger } from 'pino';
import { type ConsoleAuthOptions, NO_SIGN_IN_BEHIND_TRUSTED_PROXY, signInSettings } from './auth/options.ts';
import { ConsoleRefusal, type ConsoleRefusalReason } from './auth/refusal.ts';
import { ConsoleSignIn } from './auth/sign-in.ts';
import { parseFilters } from './filters.ts';
import { checkHostAndOrigin, defaultAllowedHostnames } from './host-check.ts';
import { html } from './html.ts';
import { tracesPage } from './index-page.ts';
import { type Account, STYLESHEET_PATH } from './page.ts';
import { responder } from './responses.ts';
import { securityHeaders } from './security.ts';
import { STYLESHEET } from './styles.ts';
import { ALL_TENANTS, type Viewer } from './tenant-scope.ts';
import { tracePage } from './trace-page.ts';
import { loadTrace, traceJson } from './trace-view.ts';
import { listTraces } from './traces.ts';

export interface ConsoleOptions {
  /** Where events are read from (`MemoryAuditSink`, or any store implementing `AuditReader`). */
  reader: AuditReader;
  /**
   * How reviewers sign in. Required: an OpenID provider (`OpenIdSignInOptions`), or, for a console
   * reachable only through a proxy that authenticates every request, the explicit opt-out
   * `NO_SIGN_IN_BEHIND_TRUSTED_PROXY` (every reader then sees every tenant).
   */
  auth: ConsoleAuthOptions;
  /**
   * Hostnames accepted in `Host` and `Origin` (DNS-rebinding defence, as at the MCP boundary).
   * Default: the redirect URI's hostname, or the loopback names when it is on loopback (and without
   * sign-in).
   */
  allowedHostnames?: readonly string[];
  /** Shown in the header and the tab title. Default: "Baton console". */
  title?: string;
  /**
   * Told when the reader fails; the page says only that the log could not be read, so store errors
   * (which may name hosts or queries) stay out of the browser. Default: `console.error` of the name.
   */
  onError?: (error: unknown) => void;
  /** Where refusals and sign-ins are logged (reason codes, never a token or cookie). Default: pino to stdout. */
  logger?: Logger;
  /** Where sign-ins and refusals of a known person are recorded as `api.call` events. Default: nowhere. */
  audit?: AuditSink;
}

/** A web-standard handler: mount it with a Node adapter, or use `startConsole`. */
export interface Console {
  fetch(request: Request): Promise<Response>;
}

/** Sessions come from the person, not from a client acting for them. */
const SIGN_IN_MODE = 'direct';

/**
 * The console: read-only pages over an `AuditReader`, for auditors who signed in.
 *
 * - `GET /` recent traces, filtered by GET parameters (user, agent, target, outcome, since, until, limit)
 * - `GET /traces/<id>` one trace's identity graph and events
 * - `GET /api/traces?…` and `GET /api/traces/<id>` the same as JSON
 * - `GET <redirect URI path>` the sign-in callback; `GET /auth/sign-in`
 * - `POST /auth/sign-out` from the console's own pages only (same origin); the one request that is not a GET
 *
 * A page without a session starts sign-in at the provider; the JSON API answers 401. Every answer is
 * limited to the auditor's tenant.
 *
 * @example
 * const app = createConsole({
 *   reader: store,
 *   auth: { issuer, clientId: 'baton-audit-console', clientSecret, redirectUri: 'https://audit.example/auth/callback', permission: 'audit:read' },
 * });
 */
export function createConsole(options: ConsoleOptions): Console {
  if (!options?.reader || typeof options.reader.query !== 'function')
    throw new TypeError('createConsole: a reader with query() is required');
  if (options.auth === undefined || options.auth === null)
    throw new TypeError(
      `createConsole: auth is required: an OpenID provider to sign in with, or '${NO_SIGN_IN_BEHIND_TRUSTED_PROXY}'`,
    );
  if (typeof options.auth === 'string' && options.auth !== NO_SIGN_IN_BEHIND_TRUSTED_PROXY)
    throw new TypeError(
      `createConsole: auth must be sign-in options or '${NO_SIGN_IN_BEHIND_TRUSTED_PROXY}'`,
    );
  const signIn =
    options.auth === NO_SIGN_IN_BEHIND_TRUSTED_PROXY
      ? undefined
      : new ConsoleSignIn(signInSettings(options.auth));
  const allowedHostnames = [
    ...(options.allowedHostnames ?? defaultAllowedHostnames(signIn?.settings.redirectUri)),
  ];
  if (allowedHostnames.length === 0) throw new TypeError('createConsole: allowedHostnames must not be empty');
  const { reader, audit } = options;
  const consoleTitle = options.title ?? 'Baton console';
  const logger = options.logger ?? createLogger({ name: 'baton-console' });
  const component = signIn ? `${signIn.settings.redirectUri.origin}/` : 'baton-console';
  const onError =
    options.onError ??
    ((error: unknown) =>
      console.error(`baton console: the audit log could not be read (${(error as Error)?.name})`));
  const respond = responder(consoleTitle);

  const notFound = (api: boolean, what: string, account: Account | undefined) =>
    api
      ? respond.json(404, { error: 'not_found', error_description: what })
      : respond.page(
          404,
          'Not found',
          html`<h1>Not found</h1><p>${what}</p><p><a href="/">All traces</a></p>`,
          {
            ...(account ? { account } : {}),
          },
        );

  /** Logs every refusal by reason, and records it when the person is known. */
  const refuse = async (refusal: ConsoleRefusal, api: boolean, headers?: HeadersInit): Promise<Response> => {
    logger.warn(
      {
        component,
        status: refusal.status,
        error: refusal.error,
        reason: refusal.reason,
        ...(refusal.sub ? { sub: refusal.sub } : {}),
        ...(refusal.cause ? { cause: errorName(refusal.cause) } : {}),
      },
      'request refused by the audit console',
    );
    if (refusal.sub) await record(refusal.sub, refusal.tenant, 'denied', refusal.reason);
    if (refusal.status === 405) headers = { allow: 'GET, HEAD', ...headers };
    const answer = refusalAnswer(refusal);
    return api
      ? respond.json(answer.status, answer.body, headers)
      : respond.page(refusal.status, 'Not permitted', refusalBody(refusal, signIn?.signInPath), {
          ...(headers ? { headers } : {}),
        });
  };

  const record = async (
    sub: string,
    tenant: string | null,
    outcome: 'ok' | 'denied',
    reason?: ConsoleRefusalReason,
  ): Promise<void> => {
    if (!audit || !signIn) return;
    await audit.write(
      auditEvent({
        action: 'api.call',
        component,
        trace_id: newTraceId(),
        initiator: { sub, tenant },
        agent: { id: signIn.settings.clientId, client_id: signIn.settings.clientId },
        target: { type: 'api', name: 'audit console sign-in' },
        delegation_mode: SIGN_IN_MODE,
        scopes: outcome === 'ok' ? [signIn.settings.permission] : [],
        outcome,
        // Every console refusal reason is one of the audit's closed set.
        ...(reason ? { reason: reason satisfies AuditReason } : {}),
        duration_ms: 0,
        span_id: newSpanId(),
      }),
    );
  };

  const startSignIn = async (returnTo: string, reauthenticate: boolean): Promise<Response> => {
    const { location, cookie } = await signIn!.start(returnTo, { reauthenticate });
    const headers = securityHeaders('text/plain; charset=utf-8');
    headers.set('location', location);
    headers.append('set-cookie', cookie);
    return new Response(null, { status: 303, headers });
  };

  /** Sign-in routes and the session check; a response, or the viewer to read for. */
  const authenticate = async (request: Request, path: string, api: boolean): Promise<Response | Viewer> => {
    if (!signIn) return { sub: 'trusted-proxy', scope: ALL_TENANTS };
    if (path === signIn.callbackPath) {
      const clear = signIn.clearSignInCookie();
      try {
        const done = await signIn.finish(request);
        logger.info({ component, sub: done.viewer.sub }, 'signed in to the audit console');
        await record(
          done.viewer.sub,
          done.viewer.scope.kind === 'tenant' ? done.viewer.scope.tenant : null,
          'ok',
        );
        const headers = new Headers([
          ['set-cookie', clear],
          ['set-cookie', done.cookie],
        ]);
        // A page, not a redirect: the browser arrived here from the provider's site, and a navigation
        // it started there would not carry the new SameSite=Strict cookie; one started here does.
        return respond.page(
          200,
          'Signed in',
          html`<h1>Signed in</h1><p><a href="${done.returnTo}">Continue to the console</a></p>`,
          {
            headers,
            refreshTo: done.returnTo,
          },
        );
      } catch (error) {
        if (error instanceof ConsoleRefusal) return refuse(error, false, [['set-cookie', clear]]);
        throw error;
      }
    }
    if (path === signIn.signInPath) return startSignIn('/', true);
    const found = signIn.viewerOf(request);
    if (found.ok) return found.viewer;
    if (api) {
      return refuse(
        new ConsoleRefusal(401, 'login_required', 'Sign in to the console in a browser first.', found.reason),
        true,
        { 'www-authenticate': 'Cookie realm="baton-console"' },
      );
    }
    logger.info({ component, reason: found.reason }, 'audit console sign-in started');
    const url = new URL(request.url);
    return startSignIn(url.pathname + url.search, false);
  };

  const route = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    const api = path === '/api/traces' || path.startsWith('/api/');
    const misdirected = checkHostAndOrigin(request, allowedHostnames);
    if (misdirected) return refuse(misdirected, api);
    if (signIn && path === signIn.signOutPath) {
      // Sign-out changes state (it ends the session and clears its cookie), so it is a POST that
      // only the console's own page can send: a link or a cross-site navigation must not end it.
      if (request.method !== 'POST') {
        return refuse(
          new ConsoleRefusal(
            405,
            'method_not_allowed',
            'Sign out with the button on a console page.',
            'method_not_allowed',
          ),
          api,
          { allow: 'POST' },
        );
      }
      const crossSite = signOutFromElsewhere(request, signIn.settings.redirectUri.origin);
      if (crossSite) {
        const found = signIn.viewerOf(request);
        const person = found.ok
          ? {
              sub: found.viewer.sub,
              tenant: found.viewer.scope.kind === 'tenant' ? found.viewer.scope.tenant : null,
            }
          : undefined;
        return refuse(
          new ConsoleRefusal(403, 'invalid_request', 'Sign out from a console page.', crossSite, person),
          api,
        );
      }
      const headers = new Headers([['set-cookie', signIn.signOut(request)]]);
      return respond.page(
        200,
        'Signed out',
        html`<h1>Signed out</h1><p>Your console session has ended. <a href="${signIn.signInPath}">Sign in again</a></p>`,
        { headers },
      );
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return refuse(
        new ConsoleRefusal(405, 'method_not_allowed', 'The console is read-only.', 'method_not_allowed'),
        api,
      );
    }
    // The stylesheet and icon hold no audit data; serving them without a session also keeps a
    // browser's icon request from starting (and so overwriting) a sign-in.
    if (path === STYLESHEET_PATH) {
      const headers = securityHeaders('text/css; charset=utf-8');
      headers.set('cache-control', 'max-age=300');
      return new Response(STYLESHEET, { headers });
    }
    // Browsers ask for an icon on every page; answering "none" keeps 404s out of their consoles.
    if (path === '/favicon.ico')
      return new Response(null, { status: 204, headers: securityHeaders('image/x-icon') });
    const viewer = await authenticate(request, path, api);
    if (viewer instanceof Response) return viewer;
    const account: Account = {
      sub: viewer.sub,
      scope: viewer.scope,
      ...(signIn ? { signOutPath: signIn.signOutPath } : {}),
    };
    if (path === '/' || path === '/api/traces') {
      const filters = parseFilters(url.searchParams);
      if (filters.errors.length > 0) {
        return api
          ? respond.json(400, { error: 'invalid_request', error_description: filters.errors.join('; ') })
          : respond.page(400, 'Traces', tracesPage(filters.values, [], filters.errors), { account });
      }
      const traces = await listTraces(reader, filters, viewer.scope);
      return api
        ? respond.json(200, { query: filters.query, limit: filters.limit, traces })
        : respond.page(200, 'Traces', tracesPage(filters.values, traces, []), { account });
    }
    const prefix = path.startsWith('/traces/')
      ? '/traces/'
      : path.startsWith('/api/traces/')
        ? '/api/traces/'
        : '';
    if (prefix) {
      const traceId = segment(path.slice(prefix.length));
      const view = traceId === undefined ? undefined : await loadTrace(reader, traceId, viewer.scope);
      if (!view) return notFound(api, 'No events were recorded for this trace.', account);
      return api
        ? respond.json(200, traceJson(view))
        : respond.page(
            200,
            `Trace ${view.summary.trace_id}`,
            tracePage(view.summary, view.hops, view.graph),
            {
              account,
            },
          );
    }
    return notFound(api, 'There is no page here.', account);
  };

  return {
    async fetch(request) {
      let response: Response;
      try {
        response = await route(request);
      } catch (error) {
        if (error instanceof ConsoleRefusal) {
          response = await refuse(error, new URL(request.url).pathname.startsWith('/api/'));
        } else {
          onError(error);
          const api = new URL(request.url).pathname.startsWith('/api/');
          response = api
            ? respond.json(500, {
                error: 'server_error',
                error_description: 'the audit log could not be read',
              })
            : respond.page(
                500,
                'Error',
                html`<h1>The audit log could not be read</h1><p>Try again, or check the console's log.</p>`,
              );
        }
      }
      return request.method === 'HEAD'
        ? new Response(null, { status: response.status, headers: response.headers })
        : response;
    },
  };
}

/**
 * Why a sign-out POST did not come from a console page, or `undefined` when it did. The Host/Origin
 * check has already refused other sites' names; this also refuses a POST without `Origin` (every
 * browser sends one on a form POST, so its absence means a client Baton cannot place), one whose
 * origin is another port or scheme of an allowed name, and one the browser marks as not same-origin.
 */
function signOutFromElsewhere(
  request: Request,
  consoleOrigin: string,
): 'origin_missing' | 'origin_not_allowed' | 'cross_site_request' | undefined {
  const fetchSite = request.headers.get('sec-fetch-site');
  if (fetchSite !== null && fetchSite !== 'same-origin') return 'cross_site_request';
  const origin = request.headers.get('origin');
  if (origin === null || origin === '' || origin === 'null') return 'origin_missing';
  if (origin !== consoleOrigin) return 'origin_not_allowed';
  return undefined;
}

function refusalBody(refusal: ConsoleRefusal, signInPath: string | undefined) {
  const heading =
    refusal.status === 403 && refusal.error === 'access_denied' ? 'Not permitted' : 'Request refused';
  return html`<h1>${heading}</h1>
<p class="refusal" data-error="${refusal.error}">${refusal.message}</p>
${signInPath && refusal.reason !== 'host_not_allowed' && refusal.reason !== 'origin_not_allowed' ? html`<p><a href="${signInPath}">Sign in (as someone else)</a></p>` : ''}`;
}

/** A name for an error to log: never its message, which can quote a provider's response. */
function errorName(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return `${(error as Error)?.name ?? typeof error}${typeof code === 'string' ? ` ${code}` : ''}`;
}

/** One decoded path segment, or `undefined` for a malformed escape or a nested path. */
function segment(raw: string): string | undefined {
  if (raw.includes('/')) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
