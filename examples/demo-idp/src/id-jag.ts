import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, importJWK, type JWK as JoseJwk, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { JWK, KoaContextWithOIDC, Provider } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { SIGNING_ALG } from './keys.ts';
import { findResource, ID_TOKEN_TTL_SECONDS, type ResourceServerConfig } from './resources.ts';
import type { UserDirectory } from './users.ts';

/** The draft the demo IdP implements (the Identity Assertion JWT Authorization Grant). */
export const ID_JAG_DRAFT = 'draft-ietf-oauth-identity-assertion-authz-grant-03';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** `requested_token_type` / `issued_token_type` of an ID-JAG. */
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** The ID-JAG's explicit `typ` (RFC 8725 §3.11). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt';

/** A resource authorization server the IdP issues ID-JAGs for, and what for. */
export interface IdJagAuthorizationServer {
  /** Its issuer identifier: the `audience` a client asks for, the ID-JAG's `aud`. */
  issuer: string;
  /** The resources behind it a client may name (`resource`), with the scopes each may be granted. */
  resources: readonly ResourceServerConfig[];
  /**
   * The client ids the administrator allows ID-JAGs for this server, matched exactly; required, and no
   * wildcard: any other client, however it authenticates, is `unauthorized_client`. Listing a client id
   * that did not come from the operator's `clients` (a Client ID Metadata Document URL) is also what lets
   * that client hold the token-exchange grant at all.
   */
  clients: readonly string[];
}

/**
 * Enterprise-managed authorization (ID-JAG draft §4.3): a client holding a person's ID token asks the
 * IdP, by RFC 8693 token exchange, for an Identity Assertion JWT Authorization Grant for a resource
 * authorization server, which redeems it (RFC 7523) for its own access token.
 */
export interface IdJagOptions {
  draft: typeof ID_JAG_DRAFT;
  /**
   * The administrator's policy: the resource authorization servers ID-JAGs may be issued for. A
   * function, read at each request, so it can name servers started after the IdP (their issuer holds
   * their port).
   */
  authorizationServers: () => readonly IdJagAuthorizationServer[];
  /** Lifetime of an ID-JAG, seconds. Default 300. */
  ttlSeconds?: number;
  /**
   * How old the ID token presented (its `iat`) and the sign-in it records (its `auth_time`, required)
   * may be, seconds. Default: the demo IdP's ID token lifetime (600).
   */
  maxIdTokenAgeSeconds?: number;
}

/** The token-exchange parameters the grant reads (RFC 8693 §2.1). */
const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'requested_token_type',
  'audience',
  'resource',
  'scope',
];

/**
 * Registers the ID-JAG token exchange on the demo IdP. Processing (draft §4.3.1): the audience is a
 * configured resource authorization server that lists the authenticated client in its `clients`; the
 * subject token is an ID token this IdP issued (no explicit `typ` other than `JWT`, so not an access
 * token, ID-JAG or SET) to that client (`aud` includes it, `azp` names it when present or when `aud`
 * names several), issued and signed in (`auth_time`, required) within `maxIdTokenAgeSeconds`, for a
 * person who is still enabled; the resource (optional) is one of its resources; the scopes are the ones asked for, each
 * configured for that resource (or for the server, without `resource`), or all of those when none is
 * asked for. The person's consent at this IdP covers its own resources only: what a listed client may
 * get at another authorization server is the administrator's configuration, which that server's own
 * policy narrows further. The ID-JAG carries
 * `iss`, `sub`, `aud`, `client_id` (the same client id: the demo's clients are registered under one
 * id everywhere), `jti`, `iat`, `exp`, `resource`, `scope`, `tenant`, `email` and the ID token's
 * `auth_time`, `acr` and `amr`.
 */
export function registerIdJagGrant(
  provider: Provider,
  context: { issuer: string; signingJwk: JWK; users: UserDirectory; options: IdJagOptions },
): void {
  const { issuer, users, options } = context;
  if (options.draft !== ID_JAG_DRAFT) throw new TypeError(`demo IdP: idJag.draft must be ${ID_JAG_DRAFT}`);
  const { d: _private, ...publicJwk } = context.signingJwk as JoseJwk;
  const keys = createLocalJWKSet({ keys: [publicJwk] });
  const signingKey = importJWK(context.signingJwk as JoseJwk, SIGNING_ALG);
  const ttl = options.ttlSeconds ?? 300;
  const maxAge = options.maxIdTokenAgeSeconds ?? ID_TOKEN_TTL_SECONDS;

  async function handler(ctx: KoaContextWithOIDC): Promise<void> {
    const params = ctx.oidc.params as Record<string, string | undefined>;
    const clientId = ctx.oidc.client!.clientId;
    // Draft §7.1: only for confidential clients; a public one goes through the authorization code flow.
    if (ctx.oidc.client!.clientAuthMethod === 'none')
      throw oauthError('unauthorized_client', 'ID-JAGs are issued to confidential clients only');
    if (params.requested_token_type !== ID_JAG_TOKEN_TYPE)
      throw oauthError('invalid_request', `requested_token_type must be ${ID_JAG_TOKEN_TYPE}`);
    if (!params.subject_token || params.subject_token_type !== ID_TOKEN_TYPE)
      throw oauthError('invalid_request', `subject_token must be an ID token (${ID_TOKEN_TYPE})`);
    // Compared as parsed URLs (clients such as the MCP SDK pass the issuer through `new URL`); the
    // ID-JAG's `aud` is the configured issuer exactly, as the resource authorization server compares it.
    const audience = params.audience ? URL.parse(params.audience)?.href : undefined;
    const server = options
      .authorizationServers()
      .find((candidate) => audience !== undefined && URL.parse(candidate.issuer)?.href === audience);
    if (!server)
      throw oauthError(
        'invalid_target',
        'audience is not an authorization server this IdP issues ID-JAGs for',
      );
    // Fails closed on a server configured without the list (the type requires it).
    if (!Array.isArray(server.clients) || !server.clients.includes(clientId))
      throw oauthError(
        'unauthorized_client',
        'the administrator has not allowed this client ID-JAGs for that authorization server',
      );
    const resource = params.resource ? findResource(server.resources, params.resource) : undefined;
    if (params.resource && !resource)
      throw oauthError('invalid_target', 'resource is not one behind that authorization server');

    let idToken: JWTPayload;
    let typ: string | undefined;
    try {
      ({
        payload: idToken,
        protectedHeader: { typ },
      } = await jwtVerify(params.subject_token, keys, {
        issuer,
        audience: clientId,
        algorithms: [SIGNING_ALG],
        requiredClaims: ['sub', 'exp', 'iat'],
        maxTokenAge: maxAge,
      }));
    } catch {
      throw oauthError('invalid_grant', 'subject_token is not a valid ID token issued to this client');
    }
    // The same key signs this IdP's access tokens (`at+jwt`), ID-JAGs and SETs: those name their type,
    // its ID tokens do not.
    if (typ !== undefined && typ.toUpperCase() !== 'JWT')
      throw oauthError('invalid_grant', 'subject_token is not an ID token');
    // OpenID Connect Core §2: `azp`, when present (and required with several audiences), is the party
    // the ID token was issued to.
    const several = Array.isArray(idToken.aud) && idToken.aud.length > 1;
    if ((several || idToken.azp !== undefined) && idToken.azp !== clientId)
      throw oauthError('invalid_grant', 'subject_token was issued to another party (azp)');
    // A refresh token grant issues ID tokens with a fresh `iat` for a day: only `auth_time` (which this
    // IdP's ID tokens always carry, mapped to the `openid` scope in its configuration) dates the sign-in.
    const now = Math.floor(Date.now() / 1000);
    if (typeof idToken.auth_time !== 'number')
      throw oauthError(
        'invalid_grant',
        'subject_token does not record when the person signed in (auth_time)',
      );
    if (now - idToken.auth_time > maxAge)
      throw oauthError('invalid_grant', 'the sign-in the subject_token records is too old (auth_time)');
    const user = users.findBySub(idToken.sub!);
    if (!user) throw oauthError('invalid_grant', 'the person is unknown or disabled');

    const allowed = new Set((resource ? [resource] : server.resources).flatMap((entry) => entry.scopes));
    const requested = params.scope ? [...new Set(params.scope.split(' ').filter(Boolean))] : [...allowed];
    const wider = requested.filter((scope) => !allowed.has(scope));
    if (wider.length)
      throw new errors.InvalidScope('requested scope is not granted for that resource', wider.join(' '));

    const grant = await new SignJWT({
      client_id: clientId,
      ...(resource ? { resource: resource.resource } : {}),
      ...(requested.length ? { scope: requested.join(' ') } : {}),
      tenant: user.tenant,
      // Draft §3 recommends `email` for the resource authorization server's subject resolution.
      email: user.email,
      auth_time: idToken.auth_time,
      ...(typeof idToken.acr === 'string' ? { acr: idToken.acr } : {}),
      ...(Array.isArray(idToken.amr) ? { amr: idToken.amr } : {}),
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: context.signingJwk.kid as string, typ: ID_JAG_TYP })
      .setIssuer(issuer)
      .setSubject(user.sub)
      .setAudience(server.issuer)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(await signingKey);
    ctx.body = {
      access_token: grant,
      issued_token_type: ID_JAG_TOKEN_TYPE,
      // Draft §4.3.2: not an access token.
      token_type: 'N_A',
      expires_in: ttl,
      ...(requested.length ? { scope: requested.join(' ') } : {}),
    };
  }

  provider.registerGrantType(TOKEN_EXCHANGE_GRANT, handler, PARAMETERS);
  // Draft §5 (IdP metadata): the identity-chaining metadata property names the ID-JAG token type.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, identity_chaining_requested_token_types_supported: [ID_JAG_TOKEN_TYPE] };
    }
  });
}

/** An RFC 6749 §5.2 error whose description reaches the client (oidc-provider's own keep theirs fixed). */
function oauthError(error: string, description: string): errors.OIDCProviderError {
  const refused = new errors.OIDCProviderError(400, error);
  refused.error_description = description;
  refused.expose = true;
  return refused;
}
