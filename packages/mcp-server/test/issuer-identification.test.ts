import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEMO_USERS, ScriptedAgentProvider } from '@baton/demo-idp';
import {
  Client,
  IssuerMismatchError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { type Stack, startStack } from './fixtures/stack.ts';

/**
 * RFC 9207 on the SDK client's callback leg (MCP 2026-07-28 "Authorization Response Validation"): the
 * demo agent hands the whole redirect to `finishAuth`, which compares `iss` with the issuer recorded at
 * discovery before the code reaches any token endpoint.
 */
describe('RFC 9207 at finishAuth (real IdP, SDK v2 server and client, HTTP)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  /** Signs in up to the redirect, as the demo agent does; returns what finishAuth would get. */
  async function signedInToRedirect() {
    const provider = new ScriptedAgentProvider({ credentials: DEMO_USERS.alice, clientName: 'iss agent' });
    const transport = new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });
    await assert.rejects(
      new Client({ name: 'iss-agent', version: '1.0.0' }).connect(transport),
      UnauthorizedError,
    );
    assert.ok(provider.callback);
    return { provider, callback: provider.callback };
  }

  const transportFor = (provider: ScriptedAgentProvider) =>
    new StreamableHTTPClientTransport(new URL(stack.resource), { authProvider: provider });

  it('redeems a code whose iss is the recorded issuer', async () => {
    const { provider, callback } = await signedInToRedirect();
    assert.equal(callback.searchParams.get('iss'), stack.idp.issuer);
    await transportFor(provider).finishAuth(callback.searchParams);
    assert.ok(provider.tokens()?.access_token);
  });

  it('refuses a mix-up: a code arriving with another issuer is never sent to the token endpoint', async () => {
    const { provider, callback } = await signedInToRedirect();
    const mixedUp = new URLSearchParams(callback.searchParams);
    mixedUp.set('iss', 'http://127.0.0.1:1');
    await assert.rejects(
      transportFor(provider).finishAuth(mixedUp),
      (error: unknown) =>
        error instanceof IssuerMismatchError &&
        error.kind === 'authorization_response' &&
        error.expected === stack.idp.issuer,
    );
    assert.equal(provider.tokens(), undefined);
  });

  it('refuses a code without iss from a server that advertises authorization_response_iss_parameter_supported', async () => {
    const { provider, callback } = await signedInToRedirect();
    const stripped = new URLSearchParams(callback.searchParams);
    stripped.delete('iss');
    await assert.rejects(transportFor(provider).finishAuth(stripped), IssuerMismatchError);
    assert.equal(provider.tokens(), undefined);
  });
});
