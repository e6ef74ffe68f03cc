import { Agent } from 'undici';

/**
 * Which Client ID Metadata Documents the demo IdP fetches (draft-ietf-oauth-client-id-metadata-document,
 * as oidc-provider's `draft-02` feature implements it; MCP 2026-07-28 prefers it to RFC 7591
 * registration). Explicit, because a document URL is chosen by whoever presents it: without a list, a
 * `client_id` would make the IdP fetch any URL.
 */
export interface ClientIdMetadataDocumentOptions {
  /**
   * Bare hostnames (no scheme, port or path) whose https documents identify clients, matched exactly.
   * Required and non-empty. The demo lists `127.0.0.1`, where its agent serves its document.
   */
  allowedHosts: readonly string[];
  /**
   * PEM certificates trusted for fetching documents from those hosts, in place of the system's roots:
   * the demo agent's loopback certificate. Default: the system's roots.
   */
  ca?: string | readonly string[];
}

/** The draft version oidc-provider implements; the feature refuses to start without it acknowledged. */
export const CLIENT_ID_METADATA_DOCUMENT_DRAFT = 'draft-02';

type ProviderFetch = (url: string | URL, init: RequestInit & { dispatcher?: unknown }) => Promise<Response>;

/** The feature's oidc-provider configuration, and how to let go of its connections when the IdP closes. */
export interface ClientIdMetadataDocumentFeature {
  feature: Record<string, unknown>;
  fetch: ProviderFetch;
  close(): Promise<void>;
}

/**
 * oidc-provider's `features.clientIdMetadataDocument` and the `fetch` it fetches documents with. Throws
 * `TypeError` for an allow-list that is empty or names more than a hostname.
 *
 * oidc-provider hands its fetches a dispatcher that drops connections to loopback and private
 * addresses (SSRF). The demo's documents are on loopback, so for a document fetch from a listed host
 * (and only that) the dispatcher is replaced by one that trusts `ca` alone, and redirects are never
 * followed. Every other fetch keeps oidc-provider's dispatcher, even to a listed host: a registered
 * client's `jwks_uri` or `sector_identifier_uri` is chosen by whoever registers it.
 */
export function clientIdMetadataDocumentFeature(
  options: ClientIdMetadataDocumentOptions,
): ClientIdMetadataDocumentFeature {
  const hosts = allowedHostsOf(options.allowedHosts);
  const allows = (url: string | URL) => {
    const parsed = URL.parse(String(url));
    return (
      parsed?.protocol === 'https:' && hosts.has(parsed.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'))
    );
  };
  const ca =
    options.ca === undefined ? undefined : typeof options.ca === 'string' ? [options.ca] : [...options.ca];
  // oidc-provider (9.x) fetches a document as a GET that does not follow redirects, and nothing else so:
  // `jwks_uri` and `sector_identifier_uri` are GETs that follow them, notifications are POSTs. A
  // test pins this (client-id-metadata-document.test.ts).
  const isDocumentFetch = (url: string | URL, init: RequestInit) =>
    allows(url) && (init.method ?? 'GET').toUpperCase() === 'GET' && init.redirect === 'manual';
  const dispatcher = new Agent({ connect: ca ? { ca } : {} });
  return {
    feature: {
      enabled: true,
      ack: CLIENT_ID_METADATA_DOCUMENT_DRAFT,
      allowFetch: (_ctx: unknown, clientId: string) => allows(clientId),
    },
    fetch: (url, init) =>
      isDocumentFetch(url, init)
        ? fetch(url, { ...init, redirect: 'manual', dispatcher } as RequestInit)
        : fetch(url, init as RequestInit),
    close: () => dispatcher.close(),
  };
}

function allowedHostsOf(entries: readonly string[]): ReadonlySet<string> {
  if (!Array.isArray(entries) || entries.length === 0)
    throw new TypeError('demo IdP: clientIdMetadataDocuments.allowedHosts must list at least one hostname');
  return new Set(
    entries.map((entry) => {
      const bracketed =
        typeof entry === 'string' && entry.includes(':') && !entry.startsWith('[') ? `[${entry}]` : entry;
      const parsed =
        typeof entry === 'string' && !entry.includes('*') ? URL.parse(`https://${bracketed}/`) : null;
      // A scheme, port, path, user part or wildcard would read as another rule than the exact hostname match applied.
      if (!parsed || parsed.host !== parsed.hostname || parsed.host !== String(bracketed).toLowerCase())
        throw new TypeError(
          `demo IdP: clientIdMetadataDocuments.allowedHosts entry ${JSON.stringify(entry)} must be a bare hostname`,
        );
      return parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    }),
  );
}
