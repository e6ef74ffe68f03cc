import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { TokenRegistry } from '../registry/token-registry.ts';

/** The audience of the access tokens Shared Signals receivers present: `<issuer>/ssf`. */
export function sharedSignalsAudience(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/ssf`;
}

export interface ReceiverTokenOptions {
  issuer: string;
  keys: JWTVerifyGetKey;
  registry: TokenRegistry;
  /** The client ids that may hold a stream: statically configured clients only. */
  receivers: ReadonlySet<string>;
}

/**
 * Authenticates a Shared Signals receiver by the broker's own access token (SSF 1.0 §7.1
 * `authorization_schemes`: OAuth 2.0). Admitted only when all hold:
 *
 * - it verifies as a broker access token (`typ: at+jwt`, ES256, this issuer, not expired) for the
 *   audience `<issuer>/ssf`;
 * - it is a service-identity token (`client_credentials`): `sub` is the `client_id`, no `act`, so no
 *   token obtained for a person, by exchange, can open or read a stream;
 * - its client is one of `receivers` (operator-listed static clients), so a dynamically registered
 *   client cannot become a receiver even if a policy rule were too broad;
 * - the registry says it is active (not revoked, nor anything it derives from).
 *
 * Getting that token already took client authentication, `client_credentials` among the client's
 * grant types (only operator configuration grants it) and a policy rule permitting the client the
 * `<issuer>/ssf` audience in mode `service_identity`. Anything else is `undefined` (401).
 */
export function receiverAuthenticator(options: ReceiverTokenOptions) {
  const audience = sharedSignalsAudience(options.issuer);
  return async function authenticateReceiver(request: Request): Promise<{ receiverId: string } | undefined> {
    const token = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(request.headers.get('authorization') ?? '')?.[1];
    if (!token) return undefined;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      }));
    } catch {
      return undefined;
    }
    const clientId = payload.client_id;
    if (typeof clientId !== 'string' || payload.sub !== clientId || payload.act !== undefined)
      return undefined;
    if (!options.receivers.has(clientId) || typeof payload.jti !== 'string') return undefined;
    if (!(await options.registry.isActive(payload.jti, Math.floor(Date.now() / 1000)))) return undefined;
    return { receiverId: clientId };
  };
}
