import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Koa middleware for the provider: keeps our `sid` claim in introspection responses.
 *
 * `extraTokenClaims` gives every user token a `sid` (the IdP sign-in session), and introspection returns
 * extra claims, but oidc-provider then writes its own `sid` over them: the OpenID per-client session id,
 * which is unset unless the client registered for back-channel logout. Without this an opaque token
 * would introspect without the `sid` its JWT twin carries.
 */
export async function restoreIntrospectedSid(
  ctx: KoaContextWithOIDC,
  next: () => Promise<unknown>,
): Promise<void> {
  await next();
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  if (oidc?.route !== 'introspection') return;
  const body = ctx.body as Record<string, unknown> | undefined;
  if (body?.active !== true) return;
  const sid = (oidc.entities.AccessToken ?? oidc.entities.ClientCredentials)?.extra?.sid;
  if (typeof sid === 'string') body.sid = sid;
}
