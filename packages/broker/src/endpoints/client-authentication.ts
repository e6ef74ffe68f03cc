import type { KoaContextWithOIDC } from 'oidc-provider';
import type { BrokerLogger } from '../grants/audited-grant.ts';

/** Endpoints where the client authenticates (RFC 6749 §2.3): token, introspection, revocation. */
const CLIENT_AUTHENTICATED_ROUTES = new Set(['token', 'introspection', 'revocation']);

const ATTESTATION_HEADERS = ['oauth-client-attestation', 'oauth-client-attestation-pop'];

export interface ClientAuthenticationErrorsOptions {
  issuer: string;
  logger: BrokerLogger;
  /** Called when an authenticated client asked for a grant type it is not registered for. */
  onGrantTypeRefused(ctx: KoaContextWithOIDC, grantType: string): Promise<void>;
}

/**
 * Brings oidc-provider's client-authentication refusals in line with RFC 6749 §5.2, in one place:
 *
 * - A request that carries no client authentication at all, or only an `Authorization` header that
 *   is not a usable `Basic` credential, is `invalid_client` (oidc-provider says `invalid_request`),
 *   401, with a `Basic` challenge: RFC 6749 requires one when the client tried an HTTP scheme, and RFC
 *   9110 §15.5.2 requires one on every 401. Several mechanisms at once, or a repeated parameter, stay
 *   `invalid_request`, as §5.2 says.
 * - OAuth 2.0 Attestation-Based Client Authentication headers (`OAuth-Client-Attestation(-PoP)`) are
 *   a method the broker does not offer: alone (a `client_id` aside) they are `invalid_client` too,
 *   whether or not the client exists, so they neither tell which clients exist nor get further.
 * - An authenticated client asking for a grant type it is not registered for is `unauthorized_client`
 *   (oidc-provider says `invalid_request`), audited through `onGrantTypeRefused`.
 * - Every other 401 `invalid_client` gets the challenge too.
 *
 * It decides from the request and the state oidc-provider left, never from error wording. Note that
 * `ctx.oidc.client` is not "the authenticated client": oidc-provider sets it as soon as it has looked
 * the client up, before it checks any credential (see `refusedGrantType`).
 */
export function clientAuthenticationErrors(options: ClientAuthenticationErrorsOptions) {
  // RFC 9110 quoted-string, kept to printable ASCII without `"` and `\` (RFC 6750 §3 asks the same).
  const challenge = `Basic realm="${options.issuer.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
  return async function correctClientAuthenticationErrors(
    ctx: KoaContextWithOIDC,
    next: () => Promise<void>,
  ): Promise<void> {
    await next();
    const route = ctx.oidc?.route;
    if (!route || !CLIENT_AUTHENTICATED_ROUTES.has(route)) return;
    const refused = ctx.body as { error?: unknown } | undefined;
    if (ctx.status === 400 && refused?.error === 'invalid_request') {
      const params = ctx.oidc.params as Record<string, unknown> | undefined;
      const client = ctx.oidc.client;
      const missing = params ? missingAuthentication(ctx, params, client !== undefined) : undefined;
      if (missing) {
        options.logger.warn({ reason: missing, route }, 'client authentication refused');
        ctx.status = 401;
        ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      } else {
        const grantType =
          route === 'token' && client && params ? refusedGrantType(ctx, client, params) : undefined;
        if (grantType !== undefined) {
          ctx.body = {
            error: 'unauthorized_client',
            error_description: 'the client is not authorized to use this grant type',
          };
          await options.onGrantTypeRefused(ctx, grantType);
        }
      }
    }
    if (ctx.status === 401 && (ctx.body as { error?: unknown })?.error === 'invalid_client') {
      if (!ctx.response.get('WWW-Authenticate')) ctx.set('WWW-Authenticate', challenge);
    }
  };
}

/**
 * Why a request that oidc-provider refused before authenticating anyone has no usable client
 * authentication, or `undefined` when it has some (then the refusal is about something else).
 */
function missingAuthentication(
  ctx: KoaContextWithOIDC,
  params: Record<string, unknown>,
  lookedUp: boolean,
): string | undefined {
  const attestation = ATTESTATION_HEADERS.some((name) => ctx.get(name) !== '');
  const inBody = ['client_id', 'client_assertion', 'client_secret'].filter(
    (name) => params[name] !== undefined,
  );
  // A repeated parameter is `invalid_request` (RFC 6749 §5.2).
  if (inBody.some((name) => Array.isArray(params[name]))) return undefined;
  const authorization = ctx.get('authorization') !== '';
  // Attestation headers and nothing else but a client id: a method the broker does not offer. oidc-provider
  // refuses it with `invalid_request` once it has looked the client up (and `invalid_client` when
  // there is no such client): the same answer for both, so existing client ids cannot be told apart.
  if (attestation && !authorization && !inBody.some((name) => name !== 'client_id')) {
    return 'client_authentication_scheme_unsupported';
  }
  // A client that was looked up may have authenticated (and been refused for its grant type).
  if (lookedUp) return undefined;
  if (!authorization && !attestation && inBody.length === 0) return 'client_authentication_missing';
  // Only an Authorization header, and oidc-provider could not use it: not Basic, or not a well-formed
  // Basic credential. Alongside other mechanisms it is `invalid_request` (one mechanism only).
  if (authorization && !attestation && !inBody.some((name) => name !== 'client_id')) {
    return 'client_authentication_scheme_unusable';
  }
  return undefined;
}

/**
 * The grant type, when oidc-provider refused the request at its allowed-grant-type check, that is:
 * refused a client that had authenticated; otherwise `undefined`. Exact, from the order of oidc-provider's token endpoint middleware
 * (`lib/actions/token.js`): client authentication (`lib/shared/client_auth.js`), duplicate
 * `grant_type`, supported grant type (`unsupported_grant_type`), then allowed grant type
 * (`invalid_request`). So an `invalid_request` with a looked-up client comes either from before
 * authentication finished or from after it; from before, only the check that attestation headers
 * are the one mechanism used (the one `invalid_request` thrown between the client lookup and the
 * credential check, needing those headers); from after, a missing or repeated `grant_type` (then it
 * is no single string), the allowed-grant-type check, or a later step, which only runs for an allowed
 * grant type. Hence: no attestation header, one `grant_type`, and the client not allowed to use it.
 */
function refusedGrantType(
  ctx: KoaContextWithOIDC,
  client: NonNullable<KoaContextWithOIDC['oidc']['client']>,
  params: Record<string, unknown>,
): string | undefined {
  if (ATTESTATION_HEADERS.some((name) => ctx.get(name) !== '')) return undefined;
  const grantType = params.grant_type;
  return typeof grantType === 'string' && !client.grantTypeAllowed(grantType) ? grantType : undefined;
}
