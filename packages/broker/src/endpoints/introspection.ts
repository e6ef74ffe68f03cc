import { sameResource } from '@baton/resource-server';
import { type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { clientsOf, type TokenRegistry } from '../registry/token-registry.ts';

export interface IntrospectionExtensionOptions {
  issuer: string;
  keys: JWTVerifyGetKey;
  registry: TokenRegistry;
}

/**
 * oidc-provider introspects only the tokens it stores; the broker's exchanged tokens are stateless
 * JWTs tracked by the registry. After oidc-provider has authenticated the caller and refused the JWT,
 * this answers for it instead: active only if the signature verifies, it has not expired, and the
 * registry says neither it nor anything it derives from is revoked (RFC 7662 §2.2: otherwise
 * `{ "active": false }` and nothing else).
 *
 * Who may introspect: the client the token was issued to, or a client the operator approved for the
 * token's audience (its `baton_resources`, which only static configuration or an approval can set).
 * Anyone else gets `{ "active": false }`, exactly as for an unknown token, so it learns nothing.
 */
export function introspectionExtension(options: IntrospectionExtensionOptions) {
  return async function introspectBrokerTokens(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route !== 'introspection' || !structuredTokenRefused(ctx)) return;
    const token = (ctx.oidc.params as { token?: string }).token;
    const caller = ctx.oidc.client;
    // Only after oidc-provider authenticated the caller (its client authentication runs first).
    if (!token || !caller) return;
    ctx.status = 200;
    ctx.body = { active: false };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        issuer: options.issuer,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      }));
    } catch {
      return;
    }
    if (typeof payload.jti !== 'string') return;
    // The caller's permission first: it is cheap and local, so a caller that may not introspect this
    // token costs no registry (store) lookup and learns nothing from its timing.
    const ownResources = (caller.metadata().baton_resources as string[] | undefined) ?? [];
    const servesAudience = ownResources.some((own) => sameResource(own, String(payload.aud)));
    if (payload.client_id !== caller.clientId && !servesAudience) return;
    const now = Math.floor(Date.now() / 1000);
    // Active only if nothing revokes it: itself, an ancestor, its grant, subject or session, or a
    // client in its chain (`act`, which names the agent the chain started from).
    if (
      !(await options.registry.status(payload.jti, now, clientsOf(payload, String(payload.client_id ?? ''))))
        .active
    ) {
      return;
    }
    ctx.body = {
      active: true,
      iss: payload.iss,
      sub: payload.sub,
      aud: payload.aud,
      client_id: payload.client_id,
      scope: payload.scope,
      exp: payload.exp,
      iat: payload.iat,
      jti: payload.jti,
      // RFC 9449 §6.2 / RFC 8705 §3.2: a sender-constrained token's confirmation, for the resource server.
      token_type: (payload.cnf as { jkt?: unknown } | undefined)?.jkt ? 'DPoP' : 'Bearer',
      ...(payload.cnf ? { cnf: payload.cnf } : {}),
      ...(payload.act ? { act: payload.act } : {}),
      ...(payload.tenant ? { tenant: payload.tenant } : {}),
    };
  };
}

/**
 * oidc-provider refuses JWTs at introspection and revocation with `unsupported_token_type` (it only
 * knows tokens it stores), after authenticating the caller. Those are the answers this extension takes over.
 */
export function structuredTokenRefused(ctx: KoaContextWithOIDC): boolean {
  return (
    ctx.status === 400 && (ctx.body as { error?: string } | undefined)?.error === 'unsupported_token_type'
  );
}
