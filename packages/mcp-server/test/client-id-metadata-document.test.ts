import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ClientMetadataDocumentHost,
  DEMO_USERS,
  type LoopbackTls,
  loopbackTls,
  OAuthFlowError,
  type ScriptedAgentEvent,
  ScriptedAgentProvider,
  scriptedAgentClientMetadata,
  serveClientMetadataDocument,
} from '@baton/demo-idp';
import {
  Client,
  OAuthError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { type Stack, startStack } from './fixtures/stack.ts';

const CLIENT_NAME = 'metadata-document agent';

/** The demo agent's walk: 401 → discovery → (identification or registration) → sign-in → finishAuth → call. */
async function signInAndList(stack: Stack, provider: ScriptedAgentProvider): Promise<void> {
  const transportFor = () =>
    new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });
  await assert.rejects(
    new Client({ name: 'cimd-agent', version: '1.0.0' }).connect(transportFor()),
    UnauthorizedError,
  );
  const transport = transportFor();
  await transport.finishAuth(provider.callback!.searchParams);
  const client = new Client({ name: 'cimd-agent', version: '1.0.0' });
  await client.connect(transport);
  const result = await client.callTool({ name: 'list_orders', arguments: {} });
  await client.close();
  assert.notEqual(result.isError, true);
}

/**
 * Client ID Metadata Documents first (MCP 2026-07-28 "Client Registration"; the IdP runs oidc-provider's
 * draft-02 feature): the agent's `client_id` is the https URL of a document it serves, which the IdP
 * fetches; RFC 7591 registration stays the fallback when the IdP does not advertise support.
 */
describe('Client ID Metadata Documents (real IdP, SDK v2 client and server, HTTPS document host)', () => {
  let tls: LoopbackTls;
  let host: ClientMetadataDocumentHost;
  let stack: Stack;

  before(async () => {
    tls = await loopbackTls();
    host = await serveClientMetadataDocument({ tls, metadata: scriptedAgentClientMetadata(CLIENT_NAME) });
    stack = await startStack({ clientIdMetadataDocuments: { allowedHosts: ['127.0.0.1'], ca: tls.cert } });
  });
  after(async () => {
    await stack.close();
    await host.close();
  });

  it('the IdP advertises client_id_metadata_document_supported', async () => {
    const metadata = await (
      await fetch(new URL('/.well-known/oauth-authorization-server', stack.idp.issuer))
    ).json();
    assert.equal(metadata.client_id_metadata_document_supported, true);
  });

  it('identifies the agent by its document URL: fetched by the IdP, no registration, the token names it', async () => {
    const events: ScriptedAgentEvent[] = [];
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.alice,
      clientName: CLIENT_NAME,
      clientMetadataUrl: host.url,
      onEvent: (event) => events.push(event),
    });
    stack.observed.length = 0;
    await signInAndList(stack, provider);
    assert.deepEqual(
      events.filter((event) => event.kind === 'identified' || event.kind === 'registered'),
      [{ kind: 'identified', clientId: host.url }],
    );
    assert.equal(provider.clientId, host.url);
    assert.ok(host.fetched >= 1, 'the IdP fetched the document');
    assert.equal(
      stack.observed.at(-1)!.identity.agent.client_id,
      host.url,
      'the envelope names the agent by it',
    );
  });

  it('refuses a document whose client_id is not the URL it was fetched from', async () => {
    const liar = await serveClientMetadataDocument({
      tls,
      metadata: scriptedAgentClientMetadata(CLIENT_NAME),
      clientId: 'https://127.0.0.1/someone-else.json',
    });
    try {
      const provider = new ScriptedAgentProvider({
        credentials: DEMO_USERS.alice,
        clientName: CLIENT_NAME,
        clientMetadataUrl: liar.url,
      });
      await assert.rejects(
        new Client({ name: 'cimd-agent', version: '1.0.0' }).connect(
          new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider }),
        ),
        (error: unknown) =>
          error instanceof OAuthFlowError &&
          error.error === 'invalid_client_metadata' &&
          /client_id does not match/.test(error.errorDescription ?? ''),
      );
      assert.ok(liar.fetched >= 1, 'fetched, then refused');
    } finally {
      await liar.close();
    }
  });

  it('does not fetch a document from a host off the allow-list (SSRF)', async () => {
    const elsewhere = await serveClientMetadataDocument({
      tls,
      host: '127.0.0.2',
      metadata: scriptedAgentClientMetadata(CLIENT_NAME),
    }).catch(() => undefined);
    // Some systems route only 127.0.0.1; the same check applies to any unlisted name.
    const url = elsewhere?.url ?? 'https://localhost:9/oauth/client-metadata.json';
    try {
      const provider = new ScriptedAgentProvider({
        credentials: DEMO_USERS.alice,
        clientName: CLIENT_NAME,
        clientMetadataUrl: url,
      });
      await assert.rejects(
        new Client({ name: 'cimd-agent', version: '1.0.0' }).connect(
          new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider }),
        ),
        (error: unknown) =>
          error instanceof OAuthFlowError &&
          error.error === 'invalid_client' &&
          /fetch not allowed/.test(error.errorDescription ?? ''),
      );
      assert.equal(elsewhere?.fetched ?? 0, 0, 'never fetched');
    } finally {
      await elsewhere?.close();
    }
  });

  it('the agent refuses a plain-http metadata URL itself (the SDK’s validateClientMetadataUrl)', () => {
    assert.throws(
      () =>
        new ScriptedAgentProvider({
          credentials: DEMO_USERS.alice,
          clientName: CLIENT_NAME,
          clientMetadataUrl: 'http://127.0.0.1:1/oauth/client-metadata.json',
        }),
      (error: unknown) => error instanceof OAuthError && /HTTPS URL/.test(error.message),
    );
  });
});

describe('RFC 7591 registration stays the fallback (the IdP does not advertise metadata documents)', () => {
  let tls: LoopbackTls;
  let host: ClientMetadataDocumentHost;
  let stack: Stack;

  before(async () => {
    tls = await loopbackTls();
    host = await serveClientMetadataDocument({ tls, metadata: scriptedAgentClientMetadata(CLIENT_NAME) });
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
    await host.close();
  });

  it('the same agent registers, never presenting its document URL, and works', async () => {
    const metadata = await (
      await fetch(new URL('/.well-known/oauth-authorization-server', stack.idp.issuer))
    ).json();
    assert.equal(metadata.client_id_metadata_document_supported, undefined);
    const events: ScriptedAgentEvent[] = [];
    const provider = new ScriptedAgentProvider({
      credentials: DEMO_USERS.alice,
      clientName: CLIENT_NAME,
      clientMetadataUrl: host.url,
      onEvent: (event) => events.push(event),
    });
    await signInAndList(stack, provider);
    const identification = events.filter(
      (event) => event.kind === 'identified' || event.kind === 'registered',
    );
    assert.equal(identification.length, 1);
    assert.equal(identification[0]!.kind, 'registered');
    assert.notEqual(provider.clientId, host.url);
    assert.equal(host.fetched, 0);
  });
});
