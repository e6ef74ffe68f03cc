import { randomBytes } from 'node:crypto';
import {
  DpopSession,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from '@modelcontextprotocol/client';
import { scriptedLogin } from './scripted-login.ts';

/** Where the IdP sends the browser back to; the scripted login reads the code off the redirect instead. */
export const SCRIPTED_AGENT_REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/** What the agent went through, for a demo to narrate. */
export type ScriptedAgentEvent =
  | { kind: 'discovered'; authorizationServer: string }
  | { kind: 'registered'; clientId: string }
  | { kind: 'authorizing'; authorizationUrl: URL }
  | { kind: 'tokens'; tokens: StoredOAuthTokens };

export interface ScriptedAgentOptions {
  credentials: { username: string; password: string };
  clientName: string;
  /** A client the operator registered at the IdP beforehand; otherwise the SDK registers one (RFC 7591). */
  client?: StoredOAuthClientInformation;
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
  /** The DPoP session, made on first use when `dpop` is on: one key for this client registration. */
  #dpop: Promise<DpopSession> | undefined;

  constructor(options: ScriptedAgentOptions) {
    this.#options = options;
    this.#client = options.client;
  }

  get redirectUrl(): string {
    return SCRIPTED_AGENT_REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.#options.clientName,
      redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
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
    this.#client = information;
    this.#options.onEvent?.({ kind: 'registered', clientId: information.client_id });
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
    const callback = await scriptedLogin(authorizationUrl, this.#options.credentials);
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
