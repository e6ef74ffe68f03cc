/**
 * Just enough of a browser's cookie store to walk oidc-provider's interaction flow with `fetch`: it keeps
 * cookies per name and path, honours `Max-Age`/`Expires` removals, and sends the cookies whose path
 * prefixes the request path. It serves a single origin, which is all one sign-in needs.
 */
export class CookieJar {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  /** Records the `Set-Cookie` headers of a response. */
  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator);
      const value = pair.slice(separator + 1);
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', attributeValue = ''] = attribute.split('=', 2);
        switch (key.toLowerCase()) {
          case 'path':
            path = attributeValue || '/';
            break;
          case 'max-age':
            expired ||= Number(attributeValue) <= 0;
            break;
          case 'expires':
            expired ||= Date.parse(attributeValue) <= Date.now();
            break;
        }
      }
      const key = `${name}\u0000${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  /** The `Cookie` header for a request to `url`, or `undefined` when no cookie applies. */
  headerFor(url: URL): string | undefined {
    const matching = [...this.#cookies.values()].filter(({ path }) => pathMatches(url.pathname, path));
    // Longer paths first, as browsers send them (RFC 6265 §5.4).
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.length > 0 ? matching.map(({ name, value }) => `${name}=${value}`).join('; ') : undefined;
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
