import { createHash, randomBytes } from 'node:crypto';
import type { CookieJar } from './cookie-jar.ts';
import { OAuthFlowError } from './errors.ts';
import type { DemoIdp } from './idp.ts';
import { scriptedLogin } from './scripted-login.ts';

export interface ObtainUserAccessTokenOptions {
  username: string;
  password: string;
  /** RFC 8707 resource indicator, sent at both the authorization and the token endpoint. */
  resource: string;
  /** Space-separated scopes to request; the user may receive fewer. */
  scope: string;
  /** An already registered public client; when absent a new one is registered dynamically. */
  clientId?: string;
  /** The secret of `clientId` when it is a confidential client (sent as `client_secret_post`). */
  clientSecret?: string;
  /** Never requested, only echoed by the IdP; must be registered for `clientId` when that is given. */
  redirectUri?: string;
  /** The browser's cookies, kept for a later `scriptedLogout`. Default: a fresh jar, dropped. */
  jar?: CookieJar;
  /** OpenID Connect `prompt`; `consent` is what lets `offline_access` (a refresh token) through. */
  prompt?: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  /** Present when `openid` was among the requested scopes. */
  id_token?: string;
  /** Present when `offline_access` was granted (with `prompt: 'consent'`). */
  refresh_token?: string;
}

const DEFAULT_REDIRECT_URI = 'http://127.0.0.1/callback';

/**
 * Test convenience: runs the whole authorization code flow with PKCE (S256) and a `resource` indicator,
 * as an MCP client would, signing in through {@link scriptedLogin}, and returns the token endpoint's JSON.
 * Throws an {@link OAuthFlowError} when any step answers with an OAuth error.
 */
export async function obtainUserAccessToken(
  idp: DemoIdp,
  options: ObtainUserAccessTokenOptions,
): Promise<TokenResponse> {
  const metadata = await discover(idp);
  const redirectUri = options.redirectUri ?? DEFAULT_REDIRECT_URI;
  const clientId =
    options.clientId ?? (await registerPublicClient(metadata.registration_endpoint, redirectUri));

  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const authorizationUrl = new URL(metadata.authorization_endpoint);
  authorizationUrl.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: options.scope,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: options.resource,
    ...(options.prompt ? { prompt: options.prompt } : {}),
  }).toString();

  const callback = await scriptedLogin(
    authorizationUrl,
    {
      username: options.username,
      password: options.password,
    },
    options.jar ? { jar: options.jar } : {},
  );
  // What a careful client checks before redeeming: its own state, and the RFC 9207 issuer.
  if (callback.searchParams.get('state') !== state) throw new Error('authorization response state mismatch');
  if (callback.searchParams.get('iss') !== idp.issuer) throw new Error('authorization response iss mismatch');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error('authorization response carries no code');

  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: clientId,
      code_verifier: verifier,
      resource: options.resource,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw errorFrom('token request', body);
  return body as unknown as TokenResponse;
}

interface Metadata {
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string;
}

async function discover(idp: DemoIdp): Promise<Metadata> {
  const response = await fetch(new URL('/.well-known/openid-configuration', idp.issuer));
  if (!response.ok) throw new Error(`discovery failed with HTTP ${response.status}`);
  return (await response.json()) as Metadata;
}

/** Registers a client shaped like the one the MCP TypeScript SDK registers (RFC 7591). */
async function registerPublicClient(registrationEndpoint: string, redirectUri: string): Promise<string> {
  const response = await fetch(registrationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      client_name: 'demo-idp test client',
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok || typeof body.client_id !== 'string') throw errorFrom('client registration', body);
  return body.client_id;
}

function errorFrom(step: string, body: Record<string, unknown>): OAuthFlowError {
  const error = typeof body.error === 'string' ? body.error : 'unknown_error';
  const description = typeof body.error_description === 'string' ? body.error_description : undefined;
  return new OAuthFlowError(step, error, description);
}
