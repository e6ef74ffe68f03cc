/**
 * The console shows data that callers chose (tool names, client ids, URLs), so the browser is told to
 * run nothing: no script at all, styles only from the console's own stylesheet, no frames, forms
 * that post only back here. Escaping keeps markup out; this policy makes a missed escape inert.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers every response carries, HTML or JSON. Audit data is not for caches or other sites.
 * `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null` on a form POST,
 * and the sign-out form is accepted only with the console's own `Origin`. Other sites still get no
 * `Referer` (trace URLs stay here).
 */
export function securityHeaders(contentType: string): Headers {
  return new Headers({
    'content-type': contentType,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  });
}
