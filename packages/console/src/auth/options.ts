import { type AccessTokenVerifier, isLoopbackHostname } from '@baton/resource-server';

/**
 * How reviewers sign in: as users of an OpenID provider, through the authorization code flow with
 * PKCE, holding a permission the provider grants only to auditors.
 *
 * @example
 * const auth: OpenIdSignInOptions = {
 *   issuer: 'https://idp.example',
 *   clientId: 'baton-audit-console',
 *   clientSecret: process.env.CONSOLE_CLIENT_SECRET,
 *   redirectUri: 'https://audit.example/auth/callback',
 *   permission: 'audit:read',
 * };
 */
export interface OpenIdSignInOptions {
  /** The OpenID provider's issuer identifier; its discovery document is read on the first sign-in. */
  issuer: string;
  /** The console's client id at the provider. */
  clientId: string;
  /**
   * The console's client secret (`client_secret_basic`): a confidential client, as a server-side
   * console should be. Leave it out only for a provider that registered the console as a public
   * client; PKCE then protects the code on its own.
   */
  clientSecret?: string;
  /**
   * Where the provider sends the browser back, registered at the provider. Its origin is the console's
   * public origin: it decides the session cookie's `Secure` flag and `__Host-` prefix, the default
   * allowed `Host` names and the default `resource`.
   */
  redirectUri: string;
  /**
   * The scope an access token for the console must carry for its holder to read the audit trail, e.g.
   * `audit:read`. Requested at sign-in; the provider must grant it only to auditors.
   */
  permission: string;
  /**
   * The console's resource indicator (RFC 8707): the audience of the access token whose scope is
   * checked. Default: the redirect URI's origin with a trailing slash.
   */
  resource?: string;
  /**
   * The claim of that access token naming the auditor's tenant. Default `tenant`. An auditor sees only
   * events whose `initiator.tenant` equals it; a token without it is refused (unless it carries
   * {@link allTenantsPermission}).
   */
  tenantClaim?: string;
  /**
   * A second scope that lets its holder read every tenant, e.g. `audit:read:all-tenants`. Requested
   * alongside `permission` when set. Default: none, so no one reads across tenants.
   */
  allTenantsPermission?: string;
  /** How long a session lasts from sign-in, in seconds. Default 3600. */
  sessionTtlSeconds?: number;
  /**
   * Permit an `http:` issuer or redirect URI on a host that is not loopback: codes, tokens and the
   * session cookie then cross the network in clear. Default false: plain HTTP is for this machine
   * only. For a demo or a lab network, never for real audit data.
   */
  allowInsecureHttp?: boolean;
  /**
   * Checks the console's access token. Default: RFC 9068 JWT validation against the provider's JWKS
   * (`typ` `at+jwt`, issuer, audience = `resource`, expiry).
   */
  tokenVerifier?: AccessTokenVerifier;
}

/**
 * The explicit opt-out: the console asks no one to sign in. Only for a console that listens where
 * nothing but an authenticating proxy can reach it; every reader then sees every tenant.
 */
export const NO_SIGN_IN_BEHIND_TRUSTED_PROXY = 'no-sign-in-behind-trusted-proxy';

export type ConsoleAuthOptions = OpenIdSignInOptions | typeof NO_SIGN_IN_BEHIND_TRUSTED_PROXY;

/** Sign-in settings after validation, with every default filled in. */
export interface SignInSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: URL;
  permission: string;
  resource: string;
  tenantClaim: string;
  allTenantsPermission: string | undefined;
  sessionTtlSeconds: number;
  tokenVerifier: AccessTokenVerifier | undefined;
  /** `Secure` cookies with the `__Host-` prefix: the console is served over https. */
  secureCookies: boolean;
}

/** The paths the console keeps for itself; a redirect URI may not take one of them. */
const RESERVED = /^\/(?:$|api\/|traces\/|assets\/|favicon\.ico$)/;
/** RFC 6749 scope-token characters. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Validates sign-in options at construction; misuse is a `TypeError`, as for every Baton option. */
export function signInSettings(options: OpenIdSignInOptions): SignInSettings {
  const fail = (message: string): never => {
    throw new TypeError(`createConsole: auth.${message}`);
  };
  const issuer = URL.parse(options.issuer ?? '');
  if (!issuer || (issuer.protocol !== 'https:' && issuer.protocol !== 'http:'))
    fail('issuer must be the OpenID provider’s http(s) issuer URL');
  const insecure = options.allowInsecureHttp === true;
  if (issuer!.protocol === 'http:' && !isLoopbackHostname(issuer!.hostname) && !insecure)
    fail('issuer is plain http on a host that is not loopback (allowInsecureHttp permits it)');
  if (typeof options.clientId !== 'string' || options.clientId === '') fail('clientId is required');
  if (
    options.clientSecret !== undefined &&
    (typeof options.clientSecret !== 'string' || options.clientSecret === '')
  )
    fail('clientSecret must be a non-empty string when given');
  const redirectUri = URL.parse(options.redirectUri ?? '');
  if (!redirectUri || (redirectUri.protocol !== 'https:' && redirectUri.protocol !== 'http:'))
    fail('redirectUri must be the absolute http(s) URL of the console’s callback');
  if (redirectUri!.search || redirectUri!.hash) fail('redirectUri must have no query or fragment');
  if (RESERVED.test(redirectUri!.pathname))
    fail('redirectUri must not be a path the console serves pages on');
  if (redirectUri!.protocol === 'http:' && !isLoopbackHostname(redirectUri!.hostname) && !insecure)
    fail('redirectUri must be https unless the console is on loopback (allowInsecureHttp permits it)');
  for (const [name, scope] of [
    ['permission', options.permission],
    ['allTenantsPermission', options.allTenantsPermission],
  ] as const) {
    if (name === 'allTenantsPermission' && scope === undefined) continue;
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) fail(`${name} must be one scope token`);
  }
  if (options.allTenantsPermission === options.permission)
    fail('allTenantsPermission must differ from permission');
  const resource = options.resource ?? `${redirectUri!.origin}/`;
  const parsedResource = URL.parse(resource);
  if (!parsedResource || parsedResource.hash) fail('resource must be an absolute URI without a fragment');
  const ttl = options.sessionTtlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 24 * 3600)
    fail('sessionTtlSeconds must be a whole number of seconds, at most a week');
  return {
    issuer: issuer!,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUri: redirectUri!,
    permission: options.permission,
    resource,
    tenantClaim: options.tenantClaim ?? 'tenant',
    allTenantsPermission: options.allTenantsPermission,
    sessionTtlSeconds: ttl,
    tokenVerifier: options.tokenVerifier,
    secureCookies: redirectUri!.protocol === 'https:',
  };
}
