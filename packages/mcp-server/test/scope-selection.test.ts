import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DEMO_USERS,
  OAuthFlowError,
  SCRIPTED_AGENT_REDIRECT_URL,
  ScriptedAgentProvider,
} from '@baton/demo-idp';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';

import { SCOPES, type Stack, startStack } from './fixtures/stack.ts';

const PREREGISTERED_AGENT = 'preregistered-agent';
const alice = DEMO_USERS.alice;

/** The SDK client connected through the whole OAuth flow (401 → metadata → sign-in → token). */
async function signedInClient(stack: Stack, provider: ScriptedAgentProvider): Promise<Client> {
  const transportFor = () =>
    new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });
  const client = new Client({ name: 'scope-selection-agent', version: '1.0.0' });
  try {
    await client.connect(transportFor());
    return client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
    const transport = transportFor();
    await transport.finishAuth(provider.callback.searchParams);
    provider.callback = undefined;
    const signedIn = new Client({ name: 'scope-selection-agent', version: '1.0.0' });
    await signedIn.connect(transport);
    return signedIn;
  }
}

/** Calls a tool; when the SDK client had to step up (403 → sign-in again), finishes that sign-in and calls again. */
async function callWithStepUp(client: Client, provider: ScriptedAgentProvider, name: string, args: object) {
  try {
    return await client.callTool({ name, arguments: { ...args } });
  } catch (error) {
    if (!(error instanceof UnauthorizedError) || !provider.callback) throw error;
    const transport = client.transport as StreamableHTTPClientTransport;
    await transport.finishAuth(provider.callback.searchParams);
    provider.callback = undefined;
    return client.callTool({ name, arguments: { ...args } });
  }
}

describe('scope selection: metadata advertises every scope, a 401 asks for what basic access needs', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      boundary: { scopesSupported: SCOPES, challengeScopes: ['orders:read'] },
      idpClients: [
        {
          client_id: PREREGISTERED_AGENT,
          token_endpoint_auth_method: 'none',
          redirect_uris: [SCRIPTED_AGENT_REDIRECT_URL],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          // Registered by the operator for every scope the server may ask, as its metadata advertises.
          scope: SCOPES.join(' '),
        },
      ],
    });
  });
  after(() => stack.close());

  it('advertises every scope in scopes_supported and asks only for the basic one in the 401 challenge', async () => {
    const metadata = await (await fetch(stack.boundary.resourceMetadataUrl)).json();
    assert.deepEqual(metadata.scopes_supported, ['orders:read', 'orders:write']);
    const response = await fetch(stack.resource, { method: 'POST' });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /scope="orders:read"/);
  });

  it('the SDK client signs in with orders:read only, then steps up to orders:write when a tool needs it', async () => {
    const provider = new ScriptedAgentProvider({
      credentials: alice,
      clientName: 'scope-selection agent',
      client: { client_id: PREREGISTERED_AGENT, issuer: stack.idp.issuer },
    });
    const client = await signedInClient(stack, provider);
    assert.deepEqual(
      provider.requestedScopes,
      ['orders:read'],
      'the first sign-in asks only for the basic scope',
    );
    assert.equal(provider.grantedScope, 'orders:read');
    const listed = await client.callTool({ name: 'list_orders', arguments: {} });
    assert.notEqual(listed.isError, true);

    const auditBefore = stack.audit.events.length;
    const created = await callWithStepUp(client, provider, 'create_order', { item: 'rope' });
    await client.close();
    assert.notEqual(created.isError, true);
    assert.deepEqual(provider.requestedScopes[1]?.split(' ').sort(), ['orders:read', 'orders:write']);
    assert.deepEqual(provider.grantedScope?.split(' ').sort(), ['orders:read', 'orders:write']);
    assert.deepEqual(
      stack.audit.events.slice(auditBefore).map((event) => [event.target.name, event.outcome, event.reason]),
      [
        ['create_order', 'denied', 'scope_insufficient'],
        ['create_order', 'ok', undefined],
      ],
    );
  });

  it('a client that registered itself with the narrow challenge scope is refused the step-up by an IdP that binds registered scopes (why challengeScopes defaults to scopesSupported)', async () => {
    const provider = new ScriptedAgentProvider({ credentials: alice, clientName: 'scope-selection agent' });
    const client = await signedInClient(stack, provider);
    assert.equal(provider.registeredScope, 'orders:read', 'the SDK registers with the first challenge scope');
    await assert.rejects(
      callWithStepUp(client, provider, 'create_order', { item: 'rope' }),
      (error: unknown) => error instanceof OAuthFlowError && error.error === 'invalid_scope',
    );
    await client.close();
  });
});

describe('scope selection by default: the 401 asks for every advertised scope', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ boundary: { scopesSupported: SCOPES } });
  });
  after(() => stack.close());

  it('a self-registering SDK client registers every scope, so a later step-up stays possible', async () => {
    const response = await fetch(stack.resource, { method: 'POST' });
    assert.match(response.headers.get('www-authenticate') ?? '', /scope="orders:read orders:write"/);
    const provider = new ScriptedAgentProvider({ credentials: alice, clientName: 'scope-selection agent' });
    const client = await signedInClient(stack, provider);
    assert.deepEqual(provider.registeredScope?.split(' ').sort(), ['orders:read', 'orders:write']);
    const created = await client.callTool({ name: 'create_order', arguments: { item: 'rope' } });
    await client.close();
    assert.notEqual(created.isError, true);
  });
});
