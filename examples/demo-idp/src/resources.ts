import type { ResourceServer } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { SIGNING_ALG } from './keys.ts';

/** A protected resource (RFC 8707 resource indicator) the IdP issues access tokens for. */
export interface ResourceServerConfig {
  /** The resource indicator, e.g. `http://127.0.0.1:4000/mcp`; becomes the token's `aud`, verbatim. */
  resource: string;
  /** Every scope the resource understands; a token for it never carries any other scope. */
  scopes: string[];
  /** `jwt` (RFC 9068, the default) lets the resource verify locally; `opaque` forces introspection. */
  accessTokenFormat?: 'jwt' | 'opaque';
  /** Lifetime of access tokens for this resource; defaults to {@link DEFAULT_ACCESS_TOKEN_TTL_SECONDS}. */
  accessTokenTtlSeconds?: number;
}

/** Short enough that expiry shows up in a demo session, long enough for a test run. */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 600;
/** Lifetime of the ID tokens the demo IdP issues, seconds; also how old an ID token ID-JAG issuance accepts. */
export const ID_TOKEN_TTL_SECONDS = 600;

/**
 * Finds the configured resource a client asked for. Indicators are compared as parsed URLs so that
 * `http://host:1` and `http://host:1/` name the same resource (clients such as the MCP SDK normalise
 * through `new URL`), while the token's audience stays the configured string exactly.
 */
export function findResource(
  resources: readonly ResourceServerConfig[],
  indicator: string,
): ResourceServerConfig | undefined {
  const wanted = URL.parse(indicator)?.href;
  if (!wanted) return undefined;
  return resources.find((candidate) => URL.parse(candidate.resource)?.href === wanted);
}

/**
 * Answers oidc-provider's `getResourceServerInfo`: what token to mint for a resource indicator.
 * Anything not configured is refused with `invalid_target`, so no token is ever minted for an audience
 * nobody declared.
 */
export function resourceServerInfo(
  resources: readonly ResourceServerConfig[],
  indicator: string,
): ResourceServer {
  const resource = findResource(resources, indicator);
  if (!resource) throw new errors.InvalidTarget('the resource indicator is not served by this IdP');
  const format = resource.accessTokenFormat ?? 'jwt';
  return {
    scope: resource.scopes.join(' '),
    audience: resource.resource,
    accessTokenFormat: format,
    accessTokenTTL: resource.accessTokenTtlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
    ...(format === 'jwt' ? { jwt: { sign: { alg: SIGNING_ALG } } } : {}),
  };
}
