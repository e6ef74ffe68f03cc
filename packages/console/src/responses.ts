import type { SafeHtml } from './html.ts';
import { type Account, page } from './page.ts';
import { securityHeaders } from './security.ts';

export const HTML = 'text/html; charset=utf-8';
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Builds the console's responses: every one with the security headers, pages with the header bar. */
export interface Responder {
  page(
    status: number,
    title: string,
    body: SafeHtml,
    options?: { account?: Account; headers?: HeadersInit; refreshTo?: string },
  ): Response;
  json(status: number, value: unknown, headers?: HeadersInit): Response;
}

export function responder(consoleTitle: string): Responder {
  return {
    page(status, title, body, options = {}) {
      const all = securityHeaders(HTML);
      for (const [name, value] of new Headers(options.headers)) all.append(name, value);
      const { account, refreshTo } = options;
      return new Response(
        page({
          title,
          consoleTitle,
          body,
          ...(account ? { account } : {}),
          ...(refreshTo ? { refreshTo } : {}),
        }),
        { status, headers: all },
      );
    },
    json(status, value, headers) {
      const all = securityHeaders(JSON_TYPE);
      for (const [name, value] of new Headers(headers)) all.append(name, value);
      return new Response(safeJson(value), { status, headers: all });
    },
  };
}

/**
 * JSON with `<`, `>` and `&` written as `\u` escapes: the same data, but a response that some tool
 * mistakes for HTML (or embeds in a page) still cannot open a tag.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
