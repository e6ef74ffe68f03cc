import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ServiceCredentials, serviceCredentials } from '@baton/broker-client';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { exchange } from './fixtures/service-client.ts';
import { BILLING_MCP, type BrokerStack, ORDERS_MCP, startBrokerStack } from './fixtures/stack.ts';
import { fetchTrusting, loopbackCertificate } from './fixtures/tls.ts';

describe('clients identified by a Client ID Metadata Document', () => {
  const documents = new Map<string, Record<string, unknown>>();
  let server: Server;
  let base: string;
  let stack: BrokerStack;
  let service: ServiceCredentials;
  let clientId: string;

  before(async () => {
    const { key, cert, ca } = await loopbackCertificate();
    server = createServer({ key, cert }, (request, response) => {
      const document = documents.get(request.url ?? '');
      if (!document) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
      response.end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    clientId = `${base}/clients/orders.json`;
    service = await serviceCredentials(clientId);
    documents.set('/clients/orders.json', {
      client_id: clientId,
      client_name: 'orders MCP server (metadata document)',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: service.jwks,
      grant_types: [TOKEN_EXCHANGE_GRANT],
      response_types: [],
      redirect_uris: [],
      baton_resources: [ORDERS_MCP],
    });
    documents.set('/clients/liar.json', {
      client_id: `${base}/clients/someone-else.json`,
      jwks: service.jwks,
    });
    stack = await startBrokerStack({
      policy: createCedarPolicyEngine({
        policies: `@id("cimd-orders-to-billing")
permit (principal == Baton::Client::"${clientId}", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "on_behalf_of" };`,
        defaults: { lifetimeSeconds: 300, maxDepth: 3 },
      }),
      clientIdMetadataDocuments: {
        allowedHosts: ['127.0.0.1'],
        // The operator approves what this document client may declare about itself.
        approvals: { [clientId]: { resources: [ORDERS_MCP] } },
      },
      fetch: fetchTrusting(ca),
    });
  });
  after(async () => {
    await stack.close();
    server.close();
  });

  const asClient = (id: string, credentials: ServiceCredentials) => ({
    clientId: id,
    metadata: {} as never,
    assertion: (audience: string) => credentials.assertion(audience),
  });

  it('authenticates the client from its document and exchanges for it under policy', async () => {
    const answer = await exchange(stack.broker.issuer, asClient(clientId, service), {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  });

  it('refuses a document whose client_id is not the URL it was fetched from', async () => {
    const liar = `${base}/clients/liar.json`;
    const answer = await exchange(stack.broker.issuer, asClient(liar, await serviceCredentials(liar)), {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_client_metadata');
    assert.match(String(answer.body.error_description), /client_id does not match/);
  });

  it('does not fetch documents from hosts the operator did not list (SSRF)', async () => {
    const elsewhere = 'https://metadata.internal.example/clients/orders.json';
    const answer = await exchange(
      stack.broker.issuer,
      asClient(elsewhere, await serviceCredentials(elsewhere)),
      {
        subject_token: await stack.userToken(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
      },
    );
    assert.equal(answer.body.error, 'invalid_client');
    assert.match(String(answer.body.error_description), /not allowed|fetch/);
  });

  it('refuses a plain-http client_id URL', async () => {
    const plain = `http://127.0.0.1:1/clients/orders.json`;
    const answer = await exchange(stack.broker.issuer, asClient(plain, await serviceCredentials(plain)), {
      subject_token: await stack.userToken(),
      subject_token_type: ACCESS_TOKEN_TYPE,
      resource: BILLING_MCP,
    });
    assert.equal(answer.body.error, 'invalid_client');
  });
});
