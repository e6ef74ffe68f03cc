import { extractBearerToken } from '@baton/resource-server';
import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { requestClientCertificate } from './fetch-endpoint.ts';

export interface ServiceTokenAuthenticatorOptions {
  issuer: string;
  /** The audience the token must be for: one of the broker's own endpoints (`<issuer>/ssf`, `<issuer>/scim/v2`). */
  audience: string;
  keys: JWTVerifyGetKey;
  registry: TokenRegistry;
  /** The client ids admitted: statically configured clients only. */
  clients: ReadonlySet<string>;
}

/**
 * Authenticates a caller of one of the broker's own endpoints by the broker's own access token,
 * admitted only when all hold:
 *
 * - it verifies as a broker access token (`typ: at+jwt`, ES256, this issuer, not expired) for the
 *   endpoint's audience;
 * - it is a service-identity token (`client_credentials`): `sub` is the `client_id`, no `act`, so no
 *   token obtained for a person, by exchange, is accepted;
 * - its client is one of `clients` (operator-listed static clients), so a dynamically registered
 *   client is never admitted even if a policy rule were too broad;
 * - the registry says it is active (not revoked, nor its client);
 * - if it is sender-constrained, it is bound to the client certificate of this very connection
 *   (`cnf["x5t#S256"]`, RFC 8705 §3); a DPoP-bound token is refused, as these endpoints check no
 *   proof: a bound token must never work here as a bearer token for whoever stole it.
 *
 * Getting that token already took client authentication, `client_credentials` among the client's
 * grant types (only operator configuration grants it) and a policy rule permitting the client that
 * audience in mode `service_identity`. Resolves to the client id, or `undefined` (answer 401).
 */
export function serviceTokenAuthenticator(options: ServiceTokenAuthenticatorOptions) {
  return async function authenticate(request: Request): Promise<string | undefined> {
    let token: string;
    try {
      token = extractBearerToken(request.headers.get('authorization'));
    } catch {
      return undefined;
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      }));
    } catch {
      return undefined;
    }
    const clientId = payload.client_id;
    if (typeof clientId !== 'string' || payload.sub !== clientId || payload.act !== undefined)
      return undefined;
    if (payload.cnf !== undefined && !boundToConnection(payload.cnf, request)) return undefined;
    if (!options.clients.has(clientId) || typeof payload.jti !== 'string') return undefined;
    const now = Math.floor(Date.now() / 1000);
    if ((await options.registry.status(payload.jti, now, [clientId])).active !== true) return undefined;
    return clientId;
  };
}

/** Whether `cnf` binds the token to exactly the certificate the request's connection presented. */
function boundToConnection(cnf: unknown, request: Request): boolean {
  const certificate = requestClientCertificate(request);
  if (!certificate || typeof cnf !== 'object' || cnf === null) return false;
  const members = Object.keys(cnf);
  return (
    members.length === 1 &&
    members[0] === 'x5t#S256' &&
    (cnf as Record<string, unknown>)['x5t#S256'] === certificate.thumbprint
  );
}
