import { randomBytes } from 'node:crypto';
import { scriptedLogin } from '@baton/demo-idp';
import {
  Client,
  InsufficientScopeError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';

/** Where the IdP sends the browser back to; the scripted login reads the code off the redirect instead. */
const REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/**
 * The agent's OAuth client, as the MCP SDK expects it. Everything the agent learns (its registration,
 * its tokens) stays in memory; the "browser" step is a scripted login against the demo IdP's real forms.
 */
class ScriptedLoginProvider implements OAuthClientProvider {
  readonly #credentials: { username: string; password: string };
  readonly #say: (line: string) => void;
  #discovery: OAuthDiscoveryState | undefined;
  #client: StoredOAuthClientInformation | undefined;
  #tokens: StoredOAuthTokens | undefined;
  #codeVerifier = '';
  #state = '';
  callback: URL | undefined;

  constructor(credentials: { username: string; password: string }, say: (line: string) => void) {
    this.#credentials = credentials;
    this.#say = say;
  }

  get redirectUrl(): string {
    return REDIRECT_URL;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Baton demo agent',
      redirect_uris: [REDIRECT_URL],
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
    this.#say(`RFC 9728 metadata names authorization server ${state.authorizationServerUrl}`);
  }
  discoveryState() {
    return this.#discovery;
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(information: StoredOAuthClientInformation) {
    this.#client = information;
    this.#say(`registered with RFC 7591 as client ${information.client_id}`);
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.#tokens = tokens;
    this.#say(
      `access token received (${tokens.token_type}, scope "${tokens.scope ?? ''}", ${tokens.expires_in ?? '?'} s)`,
    );
  }
  saveCodeVerifier(verifier: string) {
    this.#codeVerifier = verifier;
  }
  codeVerifier() {
    return this.#codeVerifier;
  }

  /** The person signs in at the IdP; here a script fills in the same forms. */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const resource = authorizationUrl.searchParams.get('resource');
    this.#say(
      `authorization code + PKCE (${authorizationUrl.searchParams.get('code_challenge_method')}) for resource ${resource}; signing in as ${this.#credentials.username}`,
    );
    const callback = await scriptedLogin(authorizationUrl, this.#credentials);
    if (callback.searchParams.get('state') !== this.#state)
      throw new Error('authorization response state mismatch');
    this.callback = callback;
  }

  get clientId(): string | undefined {
    return this.#client?.client_id;
  }
  get grantedScope(): string | undefined {
    return this.#tokens?.scope;
  }
}

export interface AgentStep {
  tool: string;
  ok: boolean;
  text: string;
}

export interface AgentRun {
  clientId: string;
  grantedScope: string;
  steps: AgentStep[];
}

/**
 * An agent that knows only the MCP server's URL. It walks the MCP authorization lifecycle with the
 * official SDK client: 401 → RFC 9728 discovery → authorization server metadata → RFC 7591
 * registration → authorization code + PKCE with `resource` → tool calls.
 */
export async function runAgent(
  serverUrl: string,
  credentials: { username: string; password: string },
  plan: Array<{ tool: string; arguments?: Record<string, unknown> }>,
  say: (line: string) => void = () => {},
): Promise<AgentRun> {
  const provider = new ScriptedLoginProvider(credentials, say);
  const transportFor = () =>
    new StreamableHTTPClientTransport(new URL(serverUrl), {
      authProvider: provider,
      onInsufficientScope: 'throw',
    });
  let client = new Client({ name: 'baton-demo-agent', version: '1.0.0' });
  try {
    await client.connect(transportFor());
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
    const transport = transportFor();
    await transport.finishAuth(provider.callback.searchParams);
    client = new Client({ name: 'baton-demo-agent', version: '1.0.0' });
    await client.connect(transport);
  }
  const steps: AgentStep[] = [];
  for (const step of plan) {
    try {
      const result = await client.callTool({ name: step.tool, arguments: step.arguments ?? {} });
      const text = (result.content as Array<{ type: string; text?: string }>)
        .map((part) => part.text ?? '')
        .join('');
      steps.push({ tool: step.tool, ok: result.isError !== true, text });
    } catch (error) {
      if (!(error instanceof InsufficientScopeError)) throw error;
      steps.push({
        tool: step.tool,
        ok: false,
        text: `step-up required: scope "${error.requiredScope ?? ''}"`,
      });
    }
  }
  await client.close();
  return { clientId: provider.clientId ?? '', grantedScope: provider.grantedScope ?? '', steps };
}
