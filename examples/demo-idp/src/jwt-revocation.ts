import { EVENT_TYPES, type SecurityEvent } from '@baton/shared-signals';
import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { SIGNING_ALG } from './keys.ts';

/**
 * Koa middleware for the provider: RFC 7009 revocation of the IdP's own JWT access tokens, when a
 * Shared Signals transmitter is configured. oidc-provider answers `unsupported_token_type` for a JWT
 * (it keeps no record of one to delete); the only way to revoke a self-contained token is to tell
 * those who verify it. So when the caller is the client the token was issued to, this answers 200 and
 * sends Baton's `tokens-revoked` event (the token's `jti` and `exp`) to every receiver. Anything else
 * (not ours, expired, another client's) also answers 200 and sends nothing (RFC 7009 §2.2).
 */
export function jwtRevocation(options: {
  issuer: string;
  keys: JWTVerifyGetKey;
  emit: (event: SecurityEvent) => void;
}) {
  return async function revokeJwtAccessTokens(ctx: KoaContextWithOIDC, next: () => Promise<unknown>) {
    await next();
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (oidc?.route !== 'revocation' || ctx.status !== 400) return;
    if ((ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return;
    const token = (oidc.params as { token?: string } | undefined)?.token;
    const caller = oidc.client;
    if (!token || !caller) return;
    ctx.status = 200;
    ctx.body = '';
    try {
      const { payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: [SIGNING_ALG],
      });
      if (typeof payload.jti !== 'string' || payload.client_id !== caller.clientId) return;
      options.emit({
        type: EVENT_TYPES.tokensRevoked,
        subject: { format: 'opaque', id: payload.jti },
        payload: {
          event_timestamp: Math.floor(Date.now() / 1000),
          initiating_entity: 'user',
          tokens: [{ jti: payload.jti, ...(typeof payload.exp === 'number' ? { exp: payload.exp } : {}) }],
        },
      });
    } catch {
      // Not ours, expired, or not valid: RFC 7009 §2.2 answers 200 all the same.
    }
  };
}
