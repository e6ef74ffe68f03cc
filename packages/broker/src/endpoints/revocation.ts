import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { OperatorRevocation } from '../revocation/operator-revocation.ts';
import { structuredTokenRefused } from './introspection.ts';

/**
 * RFC 7009 revocation for the broker's JWTs: oidc-provider refuses JWTs after authenticating the
 * caller; this answers 200 instead (as the RFC requires) and revokes a broker JWT in the registry when the caller is the client it was
 * issued to. Everything exchanged from it becomes inactive too (the registry walks the chain). It goes
 * through the broker's one revocation path: audited (the client as actor) and handed to the
 * transmitter like an operator's.
 */
export function revocationExtension(options: {
  issuer: string;
  keys: JWTVerifyGetKey;
  revocation: Pick<OperatorRevocation, 'revoke'>;
}) {
  return async function revokeBrokerTokens(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route !== 'revocation' || !structuredTokenRefused(ctx)) return;
    const token = (ctx.oidc.params as { token?: string }).token;
    const caller = ctx.oidc.client;
    if (!token || !caller) return;
    // RFC 7009 §2.2: 200 whether or not the token was valid or ours.
    ctx.status = 200;
    ctx.body = '';
    try {
      const { payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        // An expired token may still be revoked: its descendants may outlive it.
        currentDate: new Date(0),
      });
      if (typeof payload.jti === 'string' && payload.client_id === caller.clientId) {
        await options.revocation.revoke({ jti: payload.jti }, { actor: caller.clientId, reason: 'RFC 7009' });
      }
    } catch {
      // Not ours, or not valid: RFC 7009 §2.2 says answer 200 all the same.
    }
  };
}
