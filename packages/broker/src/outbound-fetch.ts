import { BatonError } from '@baton/core';
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

/** Hosts a test (or a single-machine deployment) serves over plain http. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1']);

/** Why a URL may not be fetched: a stable reason for the log. */
export type FetchRefusal = 'fetch_host_not_allowed' | 'fetch_scheme_not_allowed';

/**
 * The hosts the broker may fetch from, and nothing else: every URL it or oidc-provider fetches (Client
 * ID Metadata Documents, a client's `jwks_uri`, a `sector_identifier_uri`, …) is checked before any
 * connection is made. Hostnames compare exactly (case-insensitively): `example.com` does not admit
 * `api.example.com`. Only `https:` URLs, except plain `http:` to a loopback host that is listed (a test
 * server on this machine): keys fetched in the clear could be swapped on the way.
 *
 * Entries are bare hostnames. One with a scheme, a port, a path or a wildcard is refused with a
 * `TypeError` when the broker starts: it reads as a narrower rule than a hostname match would apply
 * (any port, any path, any scheme allowed above).
 */
export class FetchAllowList {
  readonly #hosts: ReadonlySet<string>;

  constructor(hosts: readonly string[]) {
    this.#hosts = new Set(hosts.map(bareHost));
  }

  allows(url: string | URL): boolean {
    return this.refusal(url) === undefined;
  }

  /** Why `url` may not be fetched, or `undefined` when it may. */
  refusal(url: string | URL): FetchRefusal | undefined {
    const parsed = URL.parse(String(url));
    if (parsed === null) return 'fetch_host_not_allowed';
    const host = normalizeHost(parsed.hostname);
    if (!this.#hosts.has(host)) return 'fetch_host_not_allowed';
    if (parsed.protocol === 'https:') return undefined;
    if (parsed.protocol === 'http:' && LOOPBACK_HOSTS.has(host)) return undefined;
    return 'fetch_scheme_not_allowed';
  }
}

/** An allow-list entry as a hostname, or a `TypeError` when it is anything more (or less). */
function bareHost(entry: string): string {
  const refuse = () =>
    new TypeError(
      `startBroker: fetch allow-list entry ${JSON.stringify(entry)} must be a bare hostname (no scheme, port, path or wildcard)`,
    );
  if (typeof entry !== 'string' || entry === '' || /[\s/\\@?#*%]/.test(entry)) throw refuse();
  // A bare IPv6 address has colons; anything else with one names a port.
  const bracketed = entry.startsWith('[') ? entry : entry.includes(':') ? `[${entry}]` : entry;
  if (bracketed.startsWith('[') && !bracketed.endsWith(']')) throw refuse();
  const parsed = URL.parse(`https://${bracketed}/`);
  if (parsed === null || parsed.port !== '' || parsed.hostname === '') throw refuse();
  return normalizeHost(parsed.hostname);
}

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/** Thrown (before any connection) for a URL whose host is not on the allow-list. */
export class FetchRefused extends BatonError<'ERR_BROKER_FETCH_REFUSED'> {
  override readonly name = 'FetchRefused';
  constructor(description: string) {
    super('ERR_BROKER_FETCH_REFUSED', description);
  }
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
    if (!allowed.allows(url)) throw new FetchRefused("the URL is not on the broker's fetch allow-list");
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
    const refusal = value === undefined ? undefined : allowed.refusal(String(value));
    if (refusal === 'fetch_host_not_allowed') {
      throw new UnapprovedMetadata(
        refusal,
        `${field} is on a host this broker does not fetch from`,
        `${field} host not on fetchAllowedHosts`,
      );
    }
    if (refusal === 'fetch_scheme_not_allowed') {
      throw new UnapprovedMetadata(
        refusal,
        `${field} must be an https URL`,
        `${field} is not https (plain http only to a listed loopback host)`,
      );
    }
  }
}
