import { X509Certificate } from 'node:crypto';
import type { DpopKey, ServiceCredentials, TlsClientCredentials } from '@baton/broker-client';
import { type DelegationMode, isDelegationMode } from '@baton/core';
import { x5tS256 } from '@baton/workload-identity';
import type { SharedTokenStore } from './token-cache.ts';

/**
 * An undici `Dispatcher` (an `Agent`), as Node's global `fetch` takes it in `dispatcher`: named by its
 * one method, so the DOM `RequestInit` type, which lacks the option, does not hide it.
 */
export interface FetchDispatcher {
  dispatch(options: never, handler: never): boolean;
}

/**
 * A client certificate this server presents (its workload identity, RFC 8705): the certificate, and a
 * dispatcher whose TLS connections present it with its private key (`mutualTlsDispatcher` of
 * `@baton/workload-identity`). The certificate is named here because a dispatcher cannot say which it
 * presents: its thumbprint keys the tokens bound to it.
 */
export interface ClientTls {
  /** The certificate the dispatcher presents, PEM. */
  certificate: string;
  dispatcher: FetchDispatcher;
}

/**
 * How tokens for a service are bound to this server, so that a stolen token is useless without the
 * key (RFC 9449 DPoP, `cnf.jkt`) or the certificate (RFC 8705 mutual TLS, `cnf.x5t#S256`). The broker
 * binds the token when this server proves the key (a DPoP proof on the token request) or presents the
 * certificate (an mTLS connection); each call then proves it again.
 */
export type SenderConstraint = { dpop: DpopKey } | { mtls: ClientTls };

/**
 * How a tool reaches a downstream service (MISSION part 4):
 * - `service_identity`: the MCP server calls as itself (a client-credentials token from the broker)
 *   and carries the signed envelope in `Txn-Token`, so the service still knows the person and agent;
 * - `on_behalf_of`: an RFC 8693 exchange at the broker for a token for that one service, narrowed to
 *   its scopes, naming the agent and every service in `act`;
 * - `restricted_user`: an impersonation-style token for that one service, only where policy allows.
 */
export type DownstreamMode = DelegationMode;

export interface DownstreamService {
  /** The name tools use. */
  name: string;
  /** Base URL of an HTTP API, or the endpoint of an MCP server. */
  url: string;
  /** The resource URI tokens are issued for (RFC 8707), and what `delegation.allowed` lists. Default: `url`. */
  audience?: string;
  mode: DownstreamMode;
  /** Scopes to ask for; never more than the caller holds (the broker narrows too). */
  scopes: readonly string[];
  /**
   * How the service wants its tokens bound (its protected resource metadata says so, e.g.
   * `dpop_bound_access_tokens_required`). Default: bearer tokens, over the connection `tls` declares.
   */
  senderConstraint?: SenderConstraint;
}

export interface DownstreamOptions {
  /** The token broker and this server's credentials there (`private_key_jwt`). */
  broker: { issuer: string; credentials: ServiceCredentials | TlsClientCredentials };
  services: readonly DownstreamService[];
  /**
   * This server's client certificate, presented on every connection to the broker and to services
   * that have no `mtls` constraint of their own: hops that require mutual TLS accept the connection,
   * and a broker that binds tokens to it (`cnf.x5t#S256`) finds the same certificate at the service.
   * Default: no client certificate.
   */
  tls?: ClientTls;
  /** Reuse a token until this many seconds before it expires. Default 30. */
  refreshSkewSeconds?: number;
  /**
   * Where exchanged tokens are kept between instances, encrypted at rest: `vaultKeyValue(vault,
   * 'downstream')` from `@baton/vault`. Default: this process's memory only.
   */
  tokenStore?: SharedTokenStore;
}

/**
 * What a service's tokens are bound to, as the token cache keys them: the DPoP key's thumbprint, the
 * certificate's (`x5t#S256`) of the connection the broker saw. A token bound to one is never served to a
 * request that does not prove it.
 */
export interface Binding {
  dpop?: { key: DpopKey };
  /** The connection's client certificate, for the broker and the service alike. */
  tls?: ClientTls & { thumbprint: string };
  /** `cnf.x5t#S256` is expected: the service declared `mtls`. */
  certificateBound: boolean;
}

/** A declared service, checked, with its audience and binding resolved. */
export type IndexedService = Required<Omit<DownstreamService, 'senderConstraint'>> & { binding: Binding };

/** Validated at construction: a misconfigured service is a deployment bug. */
export function indexServices(
  services: readonly DownstreamService[],
  options: Partial<Pick<DownstreamOptions, 'broker' | 'tls'>> = {},
): Map<string, IndexedService> {
  const byName = new Map<string, IndexedService>();
  const serverTls = options.tls ? clientTls(options.tls, 'tls') : undefined;
  for (const service of services) {
    if (!service.name || byName.has(service.name)) {
      throw new TypeError(`downstream service names must be unique and non-empty (${service.name})`);
    }
    if (!URL.canParse(service.url))
      throw new TypeError(`downstream service ${service.name}: url must be absolute`);
    // Tool paths resolve against the URL's path as a prefix: a query or fragment would cut that prefix
    // short of its slash (`/api?v=2` makes `/api` the prefix, and `../api-admin` is inside it).
    if (/[?#]/.test(service.url))
      throw new TypeError(`downstream service ${service.name}: url must have no query or fragment`);
    if (!isDelegationMode(service.mode)) {
      throw new TypeError(`downstream service ${service.name}: unknown mode ${String(service.mode)}`);
    }
    const { senderConstraint, ...declared } = service;
    byName.set(service.name, {
      ...declared,
      audience: service.audience ?? service.url,
      binding: bindingOf(service, senderConstraint, serverTls, options.broker?.issuer),
    });
  }
  return byName;
}

function bindingOf(
  service: DownstreamService,
  constraint: SenderConstraint | undefined,
  serverTls: Binding['tls'],
  brokerIssuer: string | undefined,
): Binding {
  const name = `downstream service ${service.name}`;
  if (constraint === undefined) return { certificateBound: false, ...(serverTls ? { tls: serverTls } : {}) };
  if ('dpop' in constraint && !('mtls' in constraint)) {
    const key = constraint.dpop as Partial<DpopKey> | undefined;
    if (
      !key ||
      typeof key.thumbprint !== 'string' ||
      typeof key.proof !== 'function' ||
      typeof key.acceptNonce !== 'function'
    ) {
      throw new TypeError(
        `${name}: senderConstraint.dpop must be a DpopKey (dpopKey() of @baton/broker-client)`,
      );
    }
    return {
      certificateBound: false,
      dpop: { key: key as DpopKey },
      ...(serverTls ? { tls: serverTls } : {}),
    };
  }
  if ('mtls' in constraint && !('dpop' in constraint)) {
    // Without TLS end to end there is no client certificate for the broker to bind or the service to check.
    for (const [what, url] of [
      ['url', service.url],
      ['the broker issuer', brokerIssuer],
    ] as const) {
      if (url !== undefined && new URL(url).protocol !== 'https:') {
        throw new TypeError(`${name}: an mtls sender constraint needs https, and ${what} is ${url}`);
      }
    }
    return { certificateBound: true, tls: clientTls(constraint.mtls, `${name}: senderConstraint.mtls`) };
  }
  throw new TypeError(`${name}: senderConstraint is { dpop } or { mtls }, one of them`);
}

/** The declared certificate, parsed once: its thumbprint (RFC 8705 §3.1 `x5t#S256`) keys bound tokens. */
function clientTls(tls: ClientTls, what: string): ClientTls & { thumbprint: string } {
  if (!tls || typeof tls.dispatcher !== 'object' || tls.dispatcher === null) {
    throw new TypeError(`${what}: a dispatcher that presents the certificate is required`);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(tls.certificate);
  } catch {
    throw new TypeError(`${what}: certificate must be a PEM X.509 certificate`);
  }
  return {
    ...tls,
    thumbprint: x5tS256(certificate.raw),
  };
}
