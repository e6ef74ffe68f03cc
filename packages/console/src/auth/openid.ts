import { type AccessTokenVerifier, jwtAccessTokenVerifier } from '@baton/resource-server';
import * as oidc from 'openid-client';
import type { Viewer } from '../tenant-scope.ts';
import type { SignInSettings } from './options.ts';
import { ConsoleRefusal } from './refusal.ts';
import type { PendingSignIn } from './sign-in-state.ts';

interface Provider {
  configuration: oidc.Configuration;
  verifier: AccessTokenVerifier;
}

/** How long one request to the provider may take during sign-in. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/**
 * The console as a relying party of the OpenID provider, on openid-client: authorization code flow
 * with PKCE (S256), `state` and `nonce`, the ID token validated (signature, `iss`, `aud`, `nonce`,
 * expiry) and the authorization response's `iss` checked when the provider sends it (RFC 9207, which
 * openid-client requires when the provider's metadata says it does).
 *
 * Who may read is decided from the access token the provider issued for the console's own resource
 * (RFC 8707): it must validate as a token for that audience and this client, name the person the ID
 * token names, and carry the permission scope; its tenant claim scopes what they see.
 */
export class OpenIdRelyingParty {
  readonly #settings: SignInSettings;
  #provider: Promise<Provider> | undefined;

  constructor(settings: SignInSettings) {
    this.#settings = settings;
  }

  /** The provider's authorization URL for a new sign-in, and what the callback must check. */
  async begin(returnTo: string): Promise<{ url: URL; pending: PendingSignIn }> {
    const { configuration } = await this.#discover();
    const pending: PendingSignIn = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      returnTo,
    };
    const { permission, allTenantsPermission } = this.#settings;
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#settings.redirectUri.href,
      scope: ['openid', permission, ...(allTenantsPermission ? [allTenantsPermission] : [])].join(' '),
      resource: this.#settings.resource,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, pending };
  }

  /** Completes a sign-in from the callback's query; the viewer, or a `ConsoleRefusal`. */
  async complete(query: URLSearchParams, pending: PendingSignIn): Promise<Viewer> {
    // Checked here as well as by openid-client so that this refusal has a reason of its own.
    if (query.get('state') !== pending.state) {
      throw new ConsoleRefusal(
        400,
        'invalid_request',
        'This sign-in response does not belong to the sign-in this browser started.',
        'state_mismatch',
      );
    }
    const { configuration, verifier } = await this.#discover();
    // The callback as registered plus the response parameters: openid-client sends its origin and path
    // as `redirect_uri`, so it must be the registered URI, not whatever Host the request named.
    const callback = new URL(this.#settings.redirectUri);
    callback.search = query.toString();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        configuration,
        callback,
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        { resource: this.#settings.resource },
      );
    } catch (error) {
      if (error instanceof oidc.AuthorizationResponseError) {
        throw new ConsoleRefusal(
          403,
          'access_denied',
          'The identity provider did not sign you in.',
          'provider_refused',
        );
      }
      throw new ConsoleRefusal(
        400,
        'invalid_request',
        'The sign-in could not be completed. Start again from the console.',
        'sign_in_failed',
        undefined,
        error,
      );
    }
    const sub = tokens.claims()?.sub;
    if (typeof sub !== 'string') {
      throw new ConsoleRefusal(
        400,
        'invalid_request',
        'The identity provider named no user.',
        'sign_in_failed',
      );
    }
    return this.#viewer(sub, tokens.access_token, verifier);
  }

  async #viewer(sub: string, accessToken: string, verifier: AccessTokenVerifier): Promise<Viewer> {
    const { clientId, permission, allTenantsPermission, tenantClaim } = this.#settings;
    const denied = (
      reason: 'access_token_invalid' | 'access_token_mismatch' | 'permission_missing' | 'tenant_missing',
      tenant: string | null,
      cause?: unknown,
    ) =>
      new ConsoleRefusal(
        403,
        'access_denied',
        'You are signed in, but you are not permitted to read this audit trail.',
        reason,
        { sub, tenant },
        cause,
      );
    let claims: Awaited<ReturnType<AccessTokenVerifier['verify']>>;
    try {
      claims = await verifier.verify(accessToken);
    } catch (error) {
      throw denied('access_token_invalid', null, error);
    }
    const tenantValue = claims.claims[tenantClaim];
    const tenant = typeof tenantValue === 'string' && tenantValue !== '' ? tenantValue : null;
    // A token for the console, but issued to another client or for another person, is not this sign-in's.
    if (claims.clientId !== clientId || claims.subject !== sub) throw denied('access_token_mismatch', tenant);
    if (allTenantsPermission && claims.scopes.includes(allTenantsPermission))
      return { sub, scope: { kind: 'all-tenants' } };
    if (!claims.scopes.includes(permission)) throw denied('permission_missing', tenant);
    if (tenant === null) throw denied('tenant_missing', null);
    return { sub, scope: { kind: 'tenant', tenant } };
  }

  /** Discovery on first use; a failure is not remembered, so the next sign-in tries again. */
  #discover(): Promise<Provider> {
    if (!this.#provider) {
      const settings = this.#settings;
      const attempt = (async (): Promise<Provider> => {
        const configuration = await oidc.discovery(
          settings.issuer,
          settings.clientId,
          { redirect_uris: [settings.redirectUri.href], response_types: ['code'] },
          settings.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(settings.clientSecret),
          {
            timeout: PROVIDER_TIMEOUT_SECONDS,
            ...(settings.issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
          },
        );
        const metadata = configuration.serverMetadata();
        const verifier =
          settings.tokenVerifier ??
          jwtAccessTokenVerifier({
            issuer: metadata.issuer,
            audience: settings.resource,
            ...(metadata.jwks_uri ? { jwksUri: metadata.jwks_uri } : {}),
          });
        return { configuration, verifier };
      })();
      this.#provider = attempt;
      attempt.catch(() => {
        if (this.#provider === attempt) this.#provider = undefined;
      });
    }
    return this.#provider.catch((error: unknown) => {
      throw new ConsoleRefusal(
        503,
        'temporarily_unavailable',
        'The identity provider cannot be reached. Try again shortly.',
        'provider_unavailable',
        undefined,
        error,
      );
    });
  }
}
