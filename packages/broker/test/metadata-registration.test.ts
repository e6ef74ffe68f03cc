import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerService, serviceCredentials } from '@baton/broker-client';
import { exportJWK, generateKeyPair } from 'jose';
import { TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { type BrokerStack, startBrokerStack } from './fixtures/stack.ts';

describe('authorization server surface', () => {
  let stack: BrokerStack;
  before(async () => {
    stack = await startBrokerStack();
  });
  after(() => stack.close());

  it('publishes RFC 8414 metadata naming every endpoint and the token-exchange grant', async () => {
    const response = await fetch(`${stack.broker.issuer}/.well-known/oauth-authorization-server`);
    assert.equal(response.status, 200);
    const metadata = (await response.json()) as Record<string, unknown>;
    assert.equal(metadata.issuer, stack.broker.issuer);
    for (const endpoint of [
      'token_endpoint',
      'introspection_endpoint',
      'revocation_endpoint',
      'registration_endpoint',
      'jwks_uri',
    ]) {
      assert.match(String(metadata[endpoint]), /^http:\/\/127\.0\.0\.1:\d+\//, endpoint);
    }
    assert.ok((metadata.grant_types_supported as string[]).includes(TOKEN_EXCHANGE_GRANT));
    assert.deepEqual([...(metadata.token_endpoint_auth_methods_supported as string[])].sort(), [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ]);
  });

  it('publishes public keys only', async () => {
    const jwks = (await (await fetch(`${stack.broker.issuer}/jwks`)).json()) as {
      keys: Array<Record<string, unknown>>;
    };
    assert.ok(jwks.keys.length >= 1);
    for (const key of jwks.keys) assert.equal('d' in key, false);
  });

  it('refuses registration without the initial access token (RFC 7591 §3)', async () => {
    const response = await fetch(`${stack.broker.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'anonymous service', grant_types: [TOKEN_EXCHANGE_GRANT] }),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_token');
  });

  it('registers a private_key_jwt service with the initial access token, and validates its metadata', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const register = (metadata: Record<string, unknown>) =>
      fetch(`${stack.broker.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test-initial-access-token' },
        body: JSON.stringify(metadata),
      });
    const good = await register({
      client_name: 'ledger service',
      grant_types: [TOKEN_EXCHANGE_GRANT],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'ledger-1', alg: 'ES256', use: 'sig' }] },
    });
    assert.equal(good.status, 201, await good.clone().text());
    const client = (await good.json()) as Record<string, unknown>;
    assert.equal(client.token_endpoint_auth_method, 'private_key_jwt');
    assert.deepEqual(client.grant_types, [TOKEN_EXCHANGE_GRANT]);
    assert.ok(typeof client.registration_access_token === 'string');
    const bad = await register({ client_name: 'bad', baton_trace_trusted: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client_metadata');
  });

  it('registerService registers an EdDSA-keyed service under its own algorithm, and its assertions are accepted', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const credentials = await serviceCredentials('unused-until-registered', {
      ...(await exportJWK(privateKey)),
      alg: 'EdDSA',
    });
    const registered = await registerService({
      registrationEndpoint: `${stack.broker.issuer}/reg`,
      initialAccessToken: 'test-initial-access-token',
      clientName: 'ledger service (EdDSA)',
      jwks: credentials.jwks,
      resources: [],
    });
    assert.equal(registered.token_endpoint_auth_signing_alg, 'EdDSA');
    const service = await serviceCredentials(registered.client_id, {
      ...(await exportJWK(privateKey)),
      alg: 'EdDSA',
    });
    // Introspection needs nothing but client authentication: a 200 means the assertion was accepted.
    const answer = await fetch(`${stack.broker.issuer}/token/introspection`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: 'anything',
        client_id: service.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await service.assertion(stack.broker.issuer),
      }),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    assert.deepEqual(await answer.json(), { active: false });
  });
});

describe('client authentication methods at the token endpoint', () => {
  let stack: BrokerStack;
  before(async () => {
    stack = await startBrokerStack({
      clients: [
        {
          client_id: 'orders-mcp',
          client_secret: 'orders-mcp-secret-at-least-32-characters',
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: [TOKEN_EXCHANGE_GRANT],
          response_types: [],
          redirect_uris: [],
          baton_resources: ['http://127.0.0.1:4101/mcp'],
        } as never,
      ],
    });
  });
  after(() => stack.close());

  it('accepts client_secret_basic where the operator registered it, and refuses a wrong secret', async () => {
    const send = (secret: string) =>
      fetch(`${stack.broker.issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`orders-mcp:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: subject,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          resource: 'http://127.0.0.1:4102/mcp',
        }),
      });
    const subject = await stack.userToken();
    const good = await send('orders-mcp-secret-at-least-32-characters');
    assert.equal(good.status, 200, await good.clone().text());
    const bad = await send('wrong-secret');
    assert.equal(bad.status, 401);
    assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client');
  });
});
