import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MemoryAuditSink } from '@baton/audit';
import { serviceCredentials } from '@baton/broker-client';
import { exportJWK, generateKeyPair } from 'jose';
import { startBroker, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { FetchAllowList } from '../src/outbound-fetch.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { post } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, POLICY, startBrokerStack } from './fixtures/stack.ts';
import { fetchTrusting, loopbackCertificate } from './fixtures/tls.ts';

/** A loopback HTTP server that serves a JWKS and counts every TCP connection made to it. */
async function recordingServer(jwks: unknown) {
  const server: Server = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(jwks));
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function serviceKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'k1' };
  const { d: _d, ...publicJwk } = privateJwk;
  return { privateJwk, jwks: { keys: [{ ...publicJwk, use: 'sig' }] } };
}

/**
 * Every URL the broker (oidc-provider) would fetch goes through one host allow-list
 * (`fetchAllowedHosts`, plus the Client ID Metadata Document hosts), checked before any connection:
 * a host that is not listed never sees one.
 */
describe('the broker fetches only from hosts on its allow-list', () => {
  let stack: BrokerStack;
  let target: Awaited<ReturnType<typeof recordingServer>>;
  let documents: ReturnType<typeof createHttpsServer>;
  let documentBase: string;
  const served = new Map<string, Record<string, unknown>>();

  before(async () => {
    const { jwks } = await serviceKey();
    target = await recordingServer(jwks);
    const { key, cert, ca } = await loopbackCertificate();
    documents = createHttpsServer({ key, cert }, (request, response) => {
      const document = served.get(request.url ?? '');
      if (!document) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    documentBase = `https://localhost:${(documents.address() as AddressInfo).port}`;
    stack = await startBrokerStack({
      // Documents from localhost identify clients; nothing else is fetched (no fetchAllowedHosts).
      clientIdMetadataDocuments: { allowedHosts: ['localhost'] },
      fetch: fetchTrusting(ca),
    });
  });
  after(async () => {
    await stack.close();
    await target.close();
    documents.close();
  });

  async function refusedRegistration(metadata: Record<string, unknown>) {
    const logged = stack.logs.length;
    const response = await fetch(`${stack.broker.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer test-initial-access-token' },
      body: JSON.stringify({
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: [TOKEN_EXCHANGE_GRANT],
        ...metadata,
      }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_client_metadata');
    assert.equal(
      stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused')?.reason,
      'fetch_host_not_allowed',
    );
  }

  it('refuses a registration whose jwks_uri is on a loopback host it was not told to fetch from, with no connection made', async () => {
    await refusedRegistration({ jwks_uri: `http://127.0.0.1:${target.port}/jwks` });
    assert.equal(target.connections, 0);
  });

  it('refuses a registration whose sector_identifier_uri is off the list, with no connection made', async () => {
    await refusedRegistration({
      jwks: (await serviceKey()).jwks,
      sector_identifier_uri: `https://127.0.0.1:${target.port}/sector`,
    });
    assert.equal(target.connections, 0);
  });

  it('never fetches the jwks_uri of a metadata-document client when that host is not listed', async () => {
    const clientId = `${documentBase}/clients/far-keys.json`;
    served.set('/clients/far-keys.json', {
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `https://127.0.0.1:${target.port}/jwks`,
      grant_types: [TOKEN_EXCHANGE_GRANT],
      response_types: [],
      redirect_uris: [],
    });
    const credentials = await serviceCredentials(clientId, (await serviceKey()).privateJwk);
    const answer = await post(`${stack.broker.issuer}/token`, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await credentials.assertion(stack.broker.issuer),
      subject_token: await stack.userToken(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_client_metadata');
    assert.equal(answer.body.error_description, 'jwks_uri is on a host this broker does not fetch from');
    assert.equal(stack.logs.at(-1)?.reason, 'fetch_host_not_allowed');
    assert.equal(target.connections, 0);
  });

  it('refuses to start with a static client whose jwks_uri is off the list', async () => {
    await assert.rejects(
      startBroker({
        trustedIssuers: [],
        audiences: [{ resource: BILLING_MCP, scopes: ['billing:read'] }],
        policy: createCedarPolicyEngine({
          policies: POLICY,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
        audit: new MemoryAuditSink(),
        initialAccessToken: 'test-initial-access-token',
        clients: [
          {
            client_id: 'far-keys',
            token_endpoint_auth_method: 'private_key_jwt',
            jwks_uri: `https://127.0.0.1:${target.port}/jwks`,
            grant_types: [TOKEN_EXCHANGE_GRANT],
            response_types: [],
            redirect_uris: [],
          },
        ],
      }),
      /jwks_uri is on a host this broker does not fetch from/,
    );
    assert.equal(target.connections, 0);
  });

  it('control: the same jwks_uri is fetched once its host is listed (so the counter does count)', async () => {
    const { privateJwk, jwks } = await serviceKey();
    const keyed = await recordingServer(jwks);
    const open = await startBrokerStack({
      fetchAllowedHosts: ['127.0.0.1'],
      fetch: (input, init) => fetch(input, init),
    });
    try {
      const registered = await fetch(`${open.broker.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test-initial-access-token' },
        body: JSON.stringify({
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'ES256',
          grant_types: [TOKEN_EXCHANGE_GRANT],
          jwks_uri: `http://127.0.0.1:${keyed.port}/jwks`,
        }),
      });
      const client = (await registered.json()) as { client_id: string };
      assert.equal(registered.status, 201, JSON.stringify(client));
      const credentials = await serviceCredentials(client.client_id, privateJwk);
      const answer = await post(`${open.broker.issuer}/token/introspection`, {
        token: 'anything',
        client_id: client.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await credentials.assertion(open.broker.issuer),
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.ok(keyed.connections > 0, 'the listed host was fetched');
    } finally {
      await open.close();
      await keyed.close();
    }
  });
});

describe('the fetch allow-list admits https, and plain http only to a listed loopback host', () => {
  const minimalOptions = () => ({
    trustedIssuers: [],
    audiences: [{ resource: BILLING_MCP, scopes: ['billing:read'] }],
    policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
    audit: new MemoryAuditSink(),
    initialAccessToken: 'test-initial-access-token',
  });

  it('refuses to start with an allow-list entry that carries a scheme, a port, a path or a wildcard', async () => {
    for (const entry of [
      'https://keys.example',
      'keys.example:8443',
      'keys.example/jwks',
      '*.example',
      '[::1]:8080',
      'user@keys.example',
      '',
    ]) {
      await assert.rejects(
        startBroker({ ...minimalOptions(), fetchAllowedHosts: [entry] }),
        (error: unknown) => error instanceof TypeError && /must be a bare hostname/.test(error.message),
        entry,
      );
    }
    await assert.rejects(
      startBroker({
        ...minimalOptions(),
        clientIdMetadataDocuments: { allowedHosts: ['https://docs.example'] },
      }),
      /must be a bare hostname/,
    );
  });

  it('refuses a registration whose jwks_uri is plain http on a listed host that is not loopback', async () => {
    const stack = await startBrokerStack({ fetchAllowedHosts: ['keys.example', 'KEYS2.example', '::1'] });
    try {
      const logged = stack.logs.length;
      const response = await fetch(`${stack.broker.issuer}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer test-initial-access-token' },
        body: JSON.stringify({
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: [TOKEN_EXCHANGE_GRANT],
          jwks_uri: 'http://keys.example/jwks',
        }),
      });
      const body = (await response.json()) as Record<string, unknown>;
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_client_metadata');
      assert.equal(body.error_description, 'jwks_uri must be an https URL');
      assert.equal(
        stack.logs.slice(logged).find((entry) => entry.msg === 'registration refused')?.reason,
        'fetch_scheme_not_allowed',
      );
    } finally {
      await stack.close();
    }
  });

  it('admits https on a listed host, plain http only to a listed loopback host', () => {
    const list = new FetchAllowList(['keys.example', 'KEYS2.example', '127.0.0.1', '::1']);
    assert.equal(list.allows('https://keys.example/jwks'), true);
    assert.equal(
      list.allows('https://keys2.example:8443/jwks'),
      true,
      'hostnames compare case-insensitively',
    );
    assert.equal(list.allows('http://keys.example/jwks'), false);
    assert.equal(list.allows('ftp://keys.example/jwks'), false);
    assert.equal(list.allows('http://127.0.0.1:8080/jwks'), true);
    assert.equal(list.allows('http://[::1]:8080/jwks'), true);
    assert.equal(list.allows('http://localhost/jwks'), false, 'loopback, but not listed');
    assert.equal(list.allows('https://api.keys.example/jwks'), false);
  });
});
