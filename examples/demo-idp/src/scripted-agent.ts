import { randomBytes } from 'node:crypto';
import {
  DpopSession,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  validateClientMetadataUrl,
} from '@modelcontextprotocol/client';
import { scriptedLogin } from './scripted-login.ts';

/** Where the IdP sends the browser back to; the scripted login reads the code off the redirect instead. */
export const SCRIPTED_AGENT_REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/**
 * The scripted agent's client metadata: what it registers (RFC 7591) or serves as its Client ID
 * Metadata Document (with `client_id` added). A public client (PKCE, no secret) with a loopback
 * redirect, hence `native` (RFC 8252), as the SDK would fill in.
 */
export function scriptedAgentClientMetadata(clientName: string): OAuthClientMetadata {
  return {
    client_name: clientName,
    redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
  };
}

/** What the agent went through, for a demo to narrate. */
export type ScriptedAgentEvent =
  | { kind: 'discovered'; authorizationServer: string }
  | { kind: 'registered'; clientId: string }
  /** The authorization server took the agent's Client ID Metadata Document URL as its `client_id`. */
  | { kind: 'identified'; clientId: string }
  | { kind: 'authorizing'; authorizationUrl: URL }
  | { kind: 'tokens'; tokens: StoredOAuthTokens };

export interface ScriptedAgentOptions {
  credentials: { username: string; password: string };
  clientName: string;
  /** A client the operator registered at the IdP beforehand; otherwise the SDK registers one (RFC 7591). */
  client?: StoredOAuthClientInformation;
  /**
   * The https URL of the agent's Client ID Metadata Document (see `serveClientMetadataDocument`),
   * serving `scriptedAgentClientMetadata(clientName)`. The SDK uses it as `client_id` when the
   * authorization server advertises `client_id_metadata_document_supported`, and registers (RFC 7591)
   * otherwise. Checked with the SDK's `validateClientMetadataUrl` (https, with a path).
   */
  clientMetadataUrl?: string;
  onEvent?: (event: ScriptedAgentEvent) => void;
  /**
   * Sender-constrained tokens (RFC 9449, issue #14): the agent holds a DPoP key (non-extractable,
   * made once per provider) and the SDK asks for DPoP-bound tokens and sends a proof with every
   * request. Default: bearer tokens.
   */
  dpop?: boolean;
}

/**
 * An MCP agent's OAuth side as the official SDK client expects it (`authProvider`), with the browser step
 * scripted against the demo IdP's real forms. Everything it learns stays in memory. After an
 * `UnauthorizedError`, pass `callback.searchParams` to `transport.finishAuth`.
 */
export class ScriptedAgentProvider implements OAuthClientProvider {
  readonly #options: ScriptedAgentOptions;
  #discovery: OAuthDiscoveryState | undefined;
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #codeVerifier = '';
  #state = '';
  /** The redirect back from the IdP after the last sign-in. */
  callback: URL | undefined;
  /** The `scope` of each authorization request, in order. */
  readonly requestedScopes: string[] = [];
  /**
   * The Client ID Metadata Document URL the agent identifies itself with, when it has one. An own
   * property only then: the SDK's `clientMetadataUrl?: string` allows no `undefined` under
   * `exactOptionalPropertyTypes`.
   */
  declare readonly clientMetadataUrl?: string;
  /** The DPoP session, made on first use when `dpop` is on: one key for this client registration. */
  #dpop: Promise<DpopSession> | undefined;

  constructor(options: ScriptedAgentOptions) {
    validateClientMetadataUrl(options.clientMetadataUrl);
    this.#options = options;
    if (options.clientMetadataUrl !== undefined) this.clientMetadataUrl = options.clientMetadataUrl;
    this.#client = options.client;
  }

  get redirectUrl(): string {
    return SCRIPTED_AGENT_REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return scriptedAgentClientMetadata(this.#options.clientName);
  }

  state(): string {
    this.#state = randomBytes(16).toString('base64url');
    return this.#state;
  }

  /** Kept with the code verifier so the callback leg is bound to the same authorization server (SEP-2352). */
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.#discovery = state;
    this.#options.onEvent?.({
      kind: 'discovered',
      authorizationServer: String(state.authorizationServerUrl),
    });
  }
  discoveryState() {
    return this.#discovery;
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(information: StoredOAuthClientInformation) {
    const known = this.#client?.client_id === information.client_id;
    this.#client = information;
    // The SDK also saves a known client again, stamped with the issuer: not a new identification.
    if (known) return;
    const identified = information.client_id === this.#options.clientMetadataUrl;
    this.#options.onEvent?.({
      kind: identified ? 'identified' : 'registered',
      clientId: information.client_id,
    });
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.#tokens = tokens;
    this.#options.onEvent?.({ kind: 'tokens', tokens });
  }
  saveCodeVerifier(verifier: string) {
    this.#codeVerifier = verifier;
  }
  codeVerifier() {
    return this.#codeVerifier;
  }

  /** The DPoP session the SDK signs proofs with (`OAuthClientProvider.dpop`), when `dpop` is on. */
  dpop(): Promise<DpopSession> | undefined {
    if (!this.#options.dpop) return undefined;
    this.#dpop ??= DpopSession.create();
    return this.#dpop;
  }

  /** The person signs in at the IdP; here a script fills in the same forms. */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    this.requestedScopes.push(authorizationUrl.searchParams.get('scope') ?? '');
    this.#options.onEvent?.({ kind: 'authorizing', authorizationUrl });
    // RFC 9207 (MCP 2026-07-28 "Authorization Response Validation"): the issuer recorded with the code
    // verifier, from the validated metadata, is what the redirect's `iss` must equal. Checked as the
    // redirect is read, so an error redirect from the wrong server is refused before its text is shown;
    // `finishAuth` checks a code's `iss` again before redeeming it.
    const metadata = this.#discovery?.authorizationServerMetadata;
    const callback = await scriptedLogin(authorizationUrl, this.#options.credentials, {
      ...(metadata?.issuer
        ? {
            issuer: {
              issuer: metadata.issuer,
              issParameterSupported: metadata.authorization_response_iss_parameter_supported === true,
            },
          }
        : {}),
    });
    if (callback.searchParams.get('state') !== this.#state)
      throw new Error('authorization response state mismatch');
    this.callback = callback;
  }

  get clientId(): string | undefined {
    return this.#client?.client_id;
  }
  /** The `scope` the client registered with, when the IdP echoed one. */
  get registeredScope(): string | undefined {
    return (this.#client as { scope?: string } | undefined)?.scope;
  }
  get grantedScope(): string | undefined {
    return this.#tokens?.scope;
  }
}
