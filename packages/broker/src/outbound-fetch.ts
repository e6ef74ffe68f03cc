import { UnapprovedMetadata } from './registration/approvals.ts';

/**
 * Client metadata naming a URL the authorization server fetches: the client's keys, its sector
 * identifier document, and its back-channel endpoints (features the broker does not enable, listed so
 * that enabling one cannot open a fetch the list misses).
 */
export const FETCHED_CLIENT_METADATA = [
  'jwks_uri',
  'sector_identifier_uri',
  'backchannel_logout_uri',
  'backchannel_client_notification_endpoint',
] as const;

/**
 * The hosts the broker may fetch from, and nothing else: every URL it or oidc-provider fetches (Client
 * ID Metadata Documents, a client's `jwks_uri`, a `sector_identifier_uri`, …) is checked before any
 * connection is made. Hostnames compare exactly (case-insensitively): `example.com` does not admit
 * `api.example.com`.
 */
export class FetchAllowList {
  readonly #hosts: ReadonlySet<string>;

  constructor(hosts: readonly string[]) {
    this.#hosts = new Set(hosts.map(normalizeHost));
  }

  allows(url: string | URL): boolean {
    const parsed = URL.parse(String(url));
    return parsed !== null && this.#hosts.has(normalizeHost(parsed.hostname));
  }
}

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/** Thrown (before any connection) for a URL whose host is not on the allow-list. */
export class FetchRefused extends Error {
  override readonly name = 'FetchRefused';
}

/**
 * oidc-provider's `fetch` hook: refuses hosts off the list before connecting, and never follows a
 * redirect (it could lead off the list). oidc-provider also passes a dispatcher that drops
 * connections to private and loopback addresses once made; it is kept, unless the operator supplies
 * its own `fetch` (tests on loopback do), which then replaces it.
 */
export function guardedFetch(allowed: FetchAllowList, fetchImplementation?: typeof fetch) {
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input;
    if (!allowed.allows(url)) throw new FetchRefused("the host is not on the broker's fetch allow-list");
    const options = { ...init, redirect: 'manual' } as RequestInit & { dispatcher?: unknown };
    if (!fetchImplementation) return fetch(url, options);
    const { dispatcher: _guard, ...rest } = options;
    return fetchImplementation(url, rest);
  };
}

/**
 * Refuses client metadata naming a URL off the allow-list, so that such a client never exists and its
 * URL is never fetched (not at registration, not at its first authentication).
 */
export function assertFetchedUrlsAllowed(metadata: Record<string, unknown>, allowed: FetchAllowList): void {
  for (const field of FETCHED_CLIENT_METADATA) {
    const value = metadata[field];
    if (value !== undefined && !allowed.allows(String(value))) {
      throw new UnapprovedMetadata(
        'fetch_host_not_allowed',
        `${field} is on a host this broker does not fetch from`,
        `${field} host not on fetchAllowedHosts`,
      );
    }
  }
}
