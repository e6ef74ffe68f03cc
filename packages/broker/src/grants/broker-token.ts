import type { Provider } from 'oidc-provider';
import type { AudienceConfig } from '../audience.ts';

/**
 * The resource server a broker-issued token is for: an RFC 9068 JWT, ES256, its `aud` exactly the
 * audience, living `lifetime` seconds.
 */
export function brokerResourceServer(provider: Provider, audience: AudienceConfig, lifetime: number) {
  return new provider.ResourceServer(audience.resource, {
    audience: audience.resource,
    scope: audience.scopes.join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: lifetime,
    jwt: { sign: { alg: 'ES256' } },
  });
}
