import type { AuditReader } from '@baton/audit';
import { parseFilters } from './filters.ts';
import type { SafeHtml } from './html.ts';
import { html } from './html.ts';
import { tracesPage } from './index-page.ts';
import { page, STYLESHEET_PATH } from './page.ts';
import { securityHeaders } from './security.ts';
import { STYLESHEET } from './styles.ts';
import { tracePage } from './trace-page.ts';
import { loadTrace, traceJson } from './trace-view.ts';
import { listTraces } from './traces.ts';

export interface ConsoleOptions {
  /** Where events are read from (`MemoryAuditSink`, or any store implementing `AuditReader`). */
  reader: AuditReader;
  /** Shown in the header and the tab title. Default: "Baton console". */
  title?: string;
  /**
   * Told when the reader fails; the page says only that the log could not be read, so store errors
   * (which may name hosts or queries) stay out of the browser. Default: `console.error` of the name.
   */
  onError?: (error: unknown) => void;
}

/** A web-standard handler: mount it with `toNodeHandler`, or use `startConsole`. */
export interface Console {
  fetch(request: Request): Promise<Response>;
}

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The console: read-only pages over an `AuditReader`.
 *
 * - `GET /` recent traces, filtered by GET parameters (user, agent, target, outcome, since, until, limit)
 * - `GET /traces/<id>` one trace's identity graph and events
 * - `GET /api/traces?…` and `GET /api/traces/<id>` the same as JSON
 *
 * It has no login of its own: serve it on loopback or behind the proxy that authenticates reviewers.
 */
export function createConsole(options: ConsoleOptions): Console {
  if (!options?.reader || typeof options.reader.query !== 'function')
    throw new TypeError('createConsole: a reader with query() is required');
  const { reader } = options;
  const consoleTitle = options.title ?? 'Baton console';
  const onError =
    options.onError ??
    ((error: unknown) =>
      console.error(`baton console: the audit log could not be read (${(error as Error)?.name})`));

  const htmlPage = (status: number, title: string, body: SafeHtml) =>
    new Response(page({ title, consoleTitle, body }), { status, headers: securityHeaders(HTML) });
  const json = (status: number, value: unknown) =>
    new Response(safeJson(value), { status, headers: securityHeaders(JSON_TYPE) });
  const notFound = (api: boolean, what: string) =>
    api
      ? json(404, { error: 'not_found', error_description: what })
      : htmlPage(404, 'Not found', html`<h1>Not found</h1><p>${what}</p><p><a href="/">All traces</a></p>`);

  const route = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    const api = path === '/api/traces' || path.startsWith('/api/');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const headers = securityHeaders(JSON_TYPE);
      headers.set('allow', 'GET, HEAD');
      return new Response(JSON.stringify({ error: 'method_not_allowed' }), { status: 405, headers });
    }
    if (path === STYLESHEET_PATH) {
      const headers = securityHeaders('text/css; charset=utf-8');
      headers.set('cache-control', 'max-age=300');
      return new Response(STYLESHEET, { headers });
    }
    // Browsers ask for an icon on every page; answering "none" keeps 404s out of their consoles.
    if (path === '/favicon.ico')
      return new Response(null, { status: 204, headers: securityHeaders('image/x-icon') });
    if (path === '/' || path === '/api/traces') {
      const filters = parseFilters(url.searchParams);
      if (filters.errors.length > 0) {
        return api
          ? json(400, { error: 'invalid_request', error_description: filters.errors.join('; ') })
          : htmlPage(400, 'Traces', tracesPage(filters.values, [], filters.errors));
      }
      const traces = await listTraces(reader, filters);
      return api
        ? json(200, { query: filters.query, limit: filters.limit, traces })
        : htmlPage(200, 'Traces', tracesPage(filters.values, traces, []));
    }
    const prefix = path.startsWith('/traces/')
      ? '/traces/'
      : path.startsWith('/api/traces/')
        ? '/api/traces/'
        : '';
    if (prefix) {
      const traceId = segment(path.slice(prefix.length));
      const view = traceId === undefined ? undefined : await loadTrace(reader, traceId);
      if (!view) return notFound(api, 'No events were recorded for this trace.');
      return api
        ? json(200, traceJson(view))
        : htmlPage(200, `Trace ${view.summary.trace_id}`, tracePage(view.summary, view.hops, view.graph));
    }
    return notFound(api, 'There is no page here.');
  };

  return {
    async fetch(request) {
      let response: Response;
      try {
        response = await route(request);
      } catch (error) {
        onError(error);
        const api = new URL(request.url).pathname.startsWith('/api/');
        response = api
          ? json(500, { error: 'server_error', error_description: 'the audit log could not be read' })
          : htmlPage(
              500,
              'Error',
              html`<h1>The audit log could not be read</h1><p>Try again, or check the console's log.</p>`,
            );
      }
      return request.method === 'HEAD'
        ? new Response(null, { status: response.status, headers: response.headers })
        : response;
    },
  };
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

/**
 * JSON with `<`, `>` and `&` written as `\u` escapes: the same data, but a response that some tool
 * mistakes for HTML (or embeds in a page) still cannot open a tag.
 */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
