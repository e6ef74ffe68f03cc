import type { ServiceCredentials } from '@baton/broker-client';
import { type DelegationMode, isDelegationMode } from '@baton/core';
import type { RevocationList } from '@baton/shared-signals';
import type { SharedTokenStore } from './token-cache.ts';

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
}

export interface DownstreamOptions {
  /** The token broker and this server's credentials there (`private_key_jwt`). */
  broker: { issuer: string; credentials: ServiceCredentials };
  services: readonly DownstreamService[];
  /** Reuse a token until this many seconds before it expires. Default 30. */
  refreshSkewSeconds?: number;
  /**
   * Where exchanged tokens are kept between instances, encrypted at rest: `vaultKeyValue(vault,
   * 'downstream')` from `@baton/vault`. Default: this process's memory only.
   */
  tokenStore?: SharedTokenStore;
  /**
   * The receiver's revocation list (`@baton/shared-signals`): cached tokens it covers are dropped as
   * revocations arrive, from memory and from `tokenStore` (`followRevocations`). An exchanged token is
   * covered by its caller's person, session or token (`jti`), and by any client of its chain (the
   * agent, each actor, this server); this server's own tokens by this server's client. Default: none.
   */
  revocations?: RevocationList;
}

/** Validated at construction: a misconfigured service is a deployment bug. */
export function indexServices(
  services: readonly DownstreamService[],
): Map<string, Required<DownstreamService>> {
  const byName = new Map<string, Required<DownstreamService>>();
  for (const service of services) {
    if (!service.name || byName.has(service.name)) {
      throw new TypeError(`downstream service names must be unique and non-empty (${service.name})`);
    }
    if (!URL.canParse(service.url))
      throw new TypeError(`downstream service ${service.name}: url must be absolute`);
    if (!isDelegationMode(service.mode)) {
      throw new TypeError(`downstream service ${service.name}: unknown mode ${String(service.mode)}`);
    }
    byName.set(service.name, { ...service, audience: service.audience ?? service.url });
  }
  return byName;
}
