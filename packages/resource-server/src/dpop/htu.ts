/**
 * The form of an HTTP target URI that DPoP compares (RFC 9449 §4.3 step 9): the URI without its query
 * and fragment, after the syntax- and scheme-based normalisation of RFC 3986 §6.2.2 and §6.2.3 that a
 * WHATWG URL parse performs (lower-case scheme and host, default port dropped, empty path as `/`).
 * `undefined` for a value that is not an absolute `http(s)` URL.
 *
 * @example dpopHtu('HTTPS://Orders.Example:443/mcp?x=1#f') // 'https://orders.example/mcp'
 */
export function dpopHtu(value: string | URL): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

/**
 * The `htu` a resource expects: its configured origin with the request's path put in as a path. Never
 * `new URL(path, origin)`: a request target such as `//evil.example/orders` is a network-path
 * reference there, and the URL would take the origin from the request (RFC 3986 §4.2).
 *
 * @example requestHtu('https://orders.example', '//evil.example/x') // 'https://orders.example//evil.example/x'
 */
export function requestHtu(origin: string | URL, path: string): URL {
  const url = new URL(origin);
  url.pathname = path;
  url.search = '';
  url.hash = '';
  return url;
}
