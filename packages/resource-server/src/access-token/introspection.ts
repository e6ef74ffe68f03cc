import { discoverAuthorizationServer } from '../authorization-server-metadata.ts';
import { authorizationServerUnavailable, invalidToken } from '../errors.ts';
import { lazyRetrying } from '../lazy.ts';
import {
  type AccessTokenClaims,
  type AccessTokenVerifier,
  audienceList,
  parseScope,
  sameResource,
} from './claims.ts';

export interface IntrospectionVerifierOptions {
  /** The authorization server's issuer; `iss` in the response, when present, must equal it. Required. */
  issuer: string;
  /** This resource's canonical URI; the response's `aud` must name it (RFC 8707). Required. */
  audience: string;
  /** How this resource server authenticates to the introspection endpoint (RFC 7662 §2.1). Required. */
  clientAuthentication: { method: 'client_secret_basic'; clientId: string; clientSecret: string };
  /** Default: `introspection_endpoint` from the issuer's metadata. */
  introspectionEndpoint?: string;
  /** Clock skew for `exp`/`nbf`, seconds. Default 30. */
  clockToleranceSeconds?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Validates opaque access tokens with RFC 7662 introspection. Every call asks the authorization
 * server (no caching here: a revoked token must stop working at once). An unreachable or failing
 * endpoint is `temporarily_unavailable` (503): authorization fails closed, never open.
 *
 * @example
 * const verifier = introspectionVerifier({ issuer, audience: 'https://orders.example/mcp',
 *   clientAuthentication: { method: 'client_secret_basic', clientId: 'orders-mcp', clientSecret } });
 */
export function introspectionVerifier(options: IntrospectionVerifierOptions): AccessTokenVerifier {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('introspectionVerifier: issuer is required');
  }
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('introspectionVerifier: audience (this resource URI) is required');
  }
  const auth = options.clientAuthentication;
  if (auth?.method !== 'client_secret_basic' || !auth.clientId || !auth.clientSecret) {
    throw new TypeError('introspectionVerifier: clientAuthentication with client_secret_basic is required');
  }
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const tolerance = options.clockToleranceSeconds ?? 30;
  // RFC 6749 §2.3.1: form-urlencode the id and secret before base64.
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`;
  const resolveEndpoint = lazyRetrying(async () => {
    if (options.introspectionEndpoint) return options.introspectionEndpoint;
    const metadata = await discoverAuthorizationServer(options.issuer, { fetch: doFetch });
    if (!metadata.introspection_endpoint) {
      throw authorizationServerUnavailable(new Error('the issuer publishes no introspection_endpoint'));
    }
    return metadata.introspection_endpoint;
  });

  return {
    async verify(token) {
      const url = await resolveEndpoint();
      let body: Record<string, unknown>;
      try {
        const response = await doFetch(url, {
          method: 'POST',
          headers: {
            authorization: basic,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
        });
        if (!response.ok) throw new Error(`introspection answered ${response.status}`);
        body = (await response.json()) as Record<string, unknown>;
      } catch (error) {
        throw authorizationServerUnavailable(error);
      }
      if (body?.active !== true) throw invalidToken('token_inactive', 'the access token is not active');
      if (body.iss !== undefined && body.iss !== options.issuer) {
        throw invalidToken('issuer_invalid', 'the access token was issued by an untrusted issuer');
      }
      const audience = audienceList(body.aud);
      if (!audience.some((value) => sameResource(value, options.audience))) {
        throw invalidToken('audience_invalid', 'the access token was not issued for this resource');
      }
      const current = now();
      if (typeof body.exp !== 'number')
        throw invalidToken('claims_invalid', 'the access token has no expiry');
      if (body.exp <= current - tolerance)
        throw invalidToken('token_expired', 'the access token has expired');
      if (typeof body.nbf === 'number' && body.nbf > current + tolerance) {
        throw invalidToken('token_not_yet_valid', 'the access token is not valid yet');
      }
      // `DPoP` (RFC 9449 §6.2) only with the key it is bound to: the sender-constraint check then
      // requires its proof, exactly as for a JWT with `cnf.jkt`.
      const tokenType = body.token_type === undefined ? 'bearer' : String(body.token_type).toLowerCase();
      const dpopBound = typeof (body.cnf as { jkt?: unknown } | undefined)?.jkt === 'string';
      if (tokenType !== 'bearer' && !(tokenType === 'dpop' && dpopBound)) {
        throw invalidToken('typ_invalid', 'the token is not a bearer or DPoP-bound access token');
      }
      if (typeof body.sub !== 'string' || typeof body.client_id !== 'string') {
        throw invalidToken('claims_invalid', 'the introspection response lacks sub or client_id');
      }
      const claims: AccessTokenClaims = {
        issuer: options.issuer,
        subject: body.sub,
        clientId: body.client_id,
        scopes: parseScope(body.scope),
        audience,
        expiresAt: body.exp,
        ...(typeof body.iat === 'number' ? { issuedAt: body.iat } : {}),
        ...(typeof body.jti === 'string' ? { tokenId: body.jti } : {}),
        claims: body,
      };
      return claims;
    },
  };
}
