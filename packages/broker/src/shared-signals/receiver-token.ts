import type { JWTVerifyGetKey } from 'jose';
import { serviceTokenAuthenticator } from '../endpoints/service-token.ts';
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
 * Authenticates a Shared Signals receiver (SSF 1.0 §7.1 `authorization_schemes`: OAuth 2.0) by the
 * broker's own service-identity token for `<issuer>/ssf`, from one of `receivers` (see
 * `serviceTokenAuthenticator`). Anything else is `undefined` (401).
 */
export function receiverAuthenticator(options: ReceiverTokenOptions) {
  const authenticate = serviceTokenAuthenticator({
    issuer: options.issuer,
    audience: sharedSignalsAudience(options.issuer),
    keys: options.keys,
    registry: options.registry,
    clients: options.receivers,
  });
  return async function authenticateReceiver(request: Request): Promise<{ receiverId: string } | undefined> {
    const receiverId = await authenticate(request);
    return receiverId === undefined ? undefined : { receiverId };
  };
}
