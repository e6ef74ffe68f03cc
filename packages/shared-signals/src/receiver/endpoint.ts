/**
 * `url` as a URL if it is `https:`, or plain `http:` to a loopback host (tests, a sidecar on the same
 * machine); otherwise a `TypeError` naming it. Every URL the receiver sends its token to, or takes
 * signing keys or SETs from, goes through this: over plain http anyone on the path could read the
 * bearer token or push authorization secret, or substitute the keys and forge events.
 */
export function checkedEndpoint(url: string | URL, name: string): URL {
  const endpoint = new URL(url);
  if (endpoint.protocol === 'https:') return endpoint;
  if (endpoint.protocol === 'http:' && isLoopback(endpoint.hostname)) return endpoint;
  throw new TypeError(`${name} must be https (plain http only on loopback)`);
}

function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
}
