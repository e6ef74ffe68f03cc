import {
  type ClientMetadataDocumentHost,
  type LoopbackTls,
  type ScriptedAgentEvent,
  ScriptedAgentProvider,
  scriptedAgentClientMetadata,
  serveClientMetadataDocument,
} from '@baton/demo-idp';
import {
  Client,
  InsufficientScopeError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  UrlElicitationRequiredError,
} from '@modelcontextprotocol/client';

/** What the demo prints as the agent walks the MCP authorization lifecycle. */
function narrate(event: ScriptedAgentEvent, username: string): string {
  switch (event.kind) {
    case 'discovered':
      return `RFC 9728 metadata names authorization server ${event.authorizationServer}`;
    case 'identified':
      return `identified by Client ID Metadata Document ${event.clientId} (the identity provider fetched it; no registration)`;
    case 'registered':
      return `registered with RFC 7591 as client ${event.clientId}`;
    case 'authorizing': {
      const url = event.authorizationUrl;
      return `authorization code + PKCE (${url.searchParams.get('code_challenge_method')}) for resource ${url.searchParams.get('resource')}; signing in as ${username}`;
    }
    case 'tokens':
      return `access token received (${event.tokens.token_type}, scope "${event.tokens.scope ?? ''}", ${event.tokens.expires_in ?? '?'} s)`;
  }
}

export interface AgentStep {
  /** The tool called, or `resource <uri>`, `prompt <name>`. */
  tool: string;
  ok: boolean;
  text: string;
}

export interface AgentRun {
  clientId: string;
  grantedScope: string;
  steps: AgentStep[];
  /** The access token the agent holds at the end (the walk-through replays it once the person is offboarded). */
  accessToken: string | undefined;
}

/** The agent's name, in its registration or its Client ID Metadata Document. */
const CLIENT_NAME = 'Baton demo agent';

/**
 * An agent that knows only the MCP server's URL. It walks the MCP authorization lifecycle with the
 * official SDK client: 401 → RFC 9728 discovery → authorization server metadata → a client id (its
 * Client ID Metadata Document URL when the authorization server advertises
 * `client_id_metadata_document_supported`, MCP 2026-07-28's first choice; RFC 7591 registration
 * otherwise) → authorization code + PKCE with `resource`, the redirect's `iss` checked (RFC 9207) →
 * tool calls.
 */
export async function runAgent(
  serverUrl: string,
  credentials: { username: string; password: string },
  plan: Array<
    { tool: string; arguments?: Record<string, unknown> } | { resource: string } | { prompt: string }
  >,
  say: (line: string) => void = () => {},
  options: {
    /**
     * Shows the person an approval page (URL-mode elicitation) and resolves once they answered. With
     * it the agent declares `elicitation.url`; without it, calls that need approval are refused.
     */
    approve?: (url: string) => Promise<void>;
    /**
     * Serve the agent's Client ID Metadata Document over https on loopback with this certificate
     * (the draft, oidc-provider and the SDK accept only an https `client_id`; the identity provider is
     * told to trust it: `clientIdMetadataDocuments.ca`) and offer its URL as the client id. Without
     * it the agent registers (RFC 7591).
     */
    clientMetadataDocument?: { tls: LoopbackTls };
  } = {},
): Promise<AgentRun> {
  const document: ClientMetadataDocumentHost | undefined = options.clientMetadataDocument
    ? await serveClientMetadataDocument({
        tls: options.clientMetadataDocument.tls,
        metadata: scriptedAgentClientMetadata(CLIENT_NAME),
      })
    : undefined;
  try {
    return await walk(serverUrl, credentials, plan, say, options, document?.url);
  } finally {
    await document?.close();
  }
}

async function walk(
  serverUrl: string,
  credentials: { username: string; password: string },
  plan: Parameters<typeof runAgent>[2],
  say: (line: string) => void,
  options: { approve?: (url: string) => Promise<void> },
  clientMetadataUrl: string | undefined,
): Promise<AgentRun> {
  const provider = new ScriptedAgentProvider({
    credentials,
    clientName: CLIENT_NAME,
    ...(clientMetadataUrl ? { clientMetadataUrl } : {}),
    onEvent: (event) => say(narrate(event, credentials.username)),
  });
  const transportFor = () =>
    new StreamableHTTPClientTransport(new URL(serverUrl), {
      authProvider: provider,
      onInsufficientScope: 'throw',
    });
  const approve = options.approve;
  const newClient = () => {
    const client = new Client(
      { name: 'baton-demo-agent', version: '1.0.0' },
      approve ? { capabilities: { elicitation: { url: {} } } } : {},
    );
    // MCP 2026-07-28: the server answers input_required with a URL elicitation; the SDK asks here.
    if (approve)
      client.setRequestHandler('elicitation/create', async (request) => {
        await approve((request.params as { url: string }).url);
        return { action: 'accept' };
      });
    return client;
  };
  let client = newClient();
  try {
    await client.connect(transportFor());
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
    const transport = transportFor();
    await transport.finishAuth(provider.callback.searchParams);
    client = newClient();
    await client.connect(transport);
  }
  const steps: AgentStep[] = [];
  for (const step of plan) {
    const name =
      'resource' in step
        ? `resource ${step.resource}`
        : 'prompt' in step
          ? `prompt ${step.prompt}`
          : step.tool;
    try {
      if ('resource' in step) {
        const result = await client.readResource({ uri: step.resource });
        const text = result.contents.map((part) => ('text' in part ? part.text : '')).join('');
        steps.push({ tool: name, ok: true, text });
        continue;
      }
      if ('prompt' in step) {
        const result = await client.getPrompt({ name: step.prompt });
        const text = result.messages
          .map((message) => ('text' in message.content ? message.content.text : ''))
          .join('');
        steps.push({ tool: name, ok: true, text });
        continue;
      }
      const { tool, arguments: input } = step;
      const call = () => client.callTool({ name: tool, arguments: input ?? {} });
      let result: Awaited<ReturnType<typeof call>>;
      try {
        result = await call();
      } catch (error) {
        // MCP 2025-11-25: -32042 names the approval page; once the person answered, the same call again.
        if (!(error instanceof UrlElicitationRequiredError) || !approve) throw error;
        say(`${tool} needs the person's approval: ${error.message}`);
        for (const elicitation of error.elicitations) await approve(elicitation.url);
        result = await call();
      }
      const text = (result.content as Array<{ type: string; text?: string }>)
        .map((part) => part.text ?? '')
        .join('');
      steps.push({ tool, ok: result.isError !== true, text });
    } catch (error) {
      if (error instanceof UrlElicitationRequiredError) {
        steps.push({ tool: name, ok: false, text: error.message });
        continue;
      }
      if (!(error instanceof InsufficientScopeError)) throw error;
      steps.push({
        tool: name,
        ok: false,
        text: `step-up required: scope "${error.requiredScope ?? ''}"`,
      });
    }
  }
  await client.close();
  return {
    clientId: provider.clientId ?? '',
    grantedScope: provider.grantedScope ?? '',
    steps,
    accessToken: provider.tokens()?.access_token,
  };
}
