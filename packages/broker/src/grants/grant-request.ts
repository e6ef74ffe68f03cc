import type { KoaContextWithOIDC, Provider } from 'oidc-provider';
import { type Possession, possessionOf } from '../sender-constraint/possession.ts';
import type { RequestTrace } from './audited-grant.ts';
import type { Parameters } from './parameters.ts';

/** A client oidc-provider has authenticated, and checked may use the grant type it asked for. */
export type AuthenticatedClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/** What every check of a grant starts from: the token request as oidc-provider has accepted it. */
export interface GrantRequest {
  readonly params: Parameters;
  readonly client: AuthenticatedClient;
  readonly clientId: string;
  readonly provider: Provider;
  /** Unix seconds, read once per request. */
  readonly now: number;
  /** The trace the request's audit event is filed under. */
  readonly trace: RequestTrace;
  /** The DPoP proof and TLS client certificate the request came with (see `senderConstraint`). */
  readonly possession: Possession;
}

export function grantRequest(ctx: KoaContextWithOIDC, trace: RequestTrace): GrantRequest {
  const client = ctx.oidc.client!;
  return {
    params: ctx.oidc.params as Parameters,
    client,
    clientId: client.clientId,
    provider: ctx.oidc.provider,
    now: Math.floor(Date.now() / 1000),
    trace,
    possession: possessionOf(ctx),
  };
}

/**
 * Baton's client metadata, read from the client's own properties: oidc-provider keeps each metadata
 * value as a property (extension metadata such as `baton_resources` under its own name, standard
 * metadata camelCased), while `metadata()` rebuilds the whole snake_case object on every call — too
 * slow for every token request.
 */
export function batonMetadataOf(client: AuthenticatedClient): {
  /** `baton_resources`: the resources the client serves, for which subject tokens are issued to it. */
  resources: readonly string[];
  /** `baton_trace_trusted`: its `traceparent` is joined rather than linked. */
  traceTrusted: boolean;
  /** `scope`: the scopes the client is approved for (service identity). */
  scope: string | undefined;
} {
  const properties = client as unknown as {
    baton_resources?: string[];
    baton_trace_trusted?: boolean;
    scope?: string;
  };
  return {
    resources: properties.baton_resources ?? [],
    traceTrusted: properties.baton_trace_trusted === true,
    scope: properties.scope,
  };
}
