import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { checkServerIdentity, connect } from 'node:tls';
import { type AuditEvent, MemoryAuditSink } from '@baton/audit';
import {
  ACCESS_TOKEN_TYPE,
  clientCredentialsToken,
  dpopKey,
  exchangeToken,
  type ServiceCredentials,
  serviceClientMetadata,
  serviceCredentials,
  TokenRequestError,
  TXN_TOKEN_TYPE,
  tlsClientCredentials,
  workloadClientMetadata,
} from '@baton/broker-client';
import { parseAct } from '@baton/resource-server';
import {
  type CertificateAuthority,
  clientTlsOptions,
  createCertificateAuthority,
  issueWorkloadCertificate,
  type TlsIdentity,
  type WorkloadCertificate,
} from '@baton/workload-identity';
import { decodeJwt } from 'jose';
import type { ClientMetadata } from 'oidc-provider';
import { type BrokerOptions, startBroker } from '../src/index.ts';
import { createCedarPolicyEngine } from '../src/policy/index.ts';
import { type SelfSignedClient, selfSignedClient } from './fixtures/pki.ts';
import {
  BILLING_API,
  BILLING_MCP,
  type BrokerStack,
  ORDERS_MCP,
  POLICY,
  startBrokerStack,
} from './fixtures/stack.ts';
import { fetchTrusting } from './fixtures/tls.ts';

/**
 * Sender-constrained tokens at the broker (issue #14 item 2): DPoP (RFC 9449) and mutual TLS
 * (RFC 8705) at the token endpoint, over a real HTTPS listener on 127.0.0.1 with certificates an
 * internal CA (`@baton/workload-identity`) issues, against the demo identity provider (oidc-provider)
 * as in every broker test.
 */

const SERVICE_RULES = ['dpop-service', 'mtls-service', 'dn-service', 'self-signed-service']
  .map(
    (client) => `
@id("${client}-service-identity")
permit (principal == Baton::Client::"${client}", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_API}")
when { context.mode == "service_identity" && context.scope == "billing:read" };`,
  )
  .join('\n');
const WORKLOAD_RULE = `
@id("orders-workload-to-billing")
permit (principal == Baton::Client::"orders-workload", action == Baton::Action::"exchange", resource == Baton::Audience::"${BILLING_MCP}")
when { context.mode == "on_behalf_of" && context.scope == "billing:read" };`;

const ORDERS_SPIFFE = 'spiffe://baton.test/orders-workload';
const MTLS_SPIFFE = 'spiffe://baton.test/mtls-service';

function serviceIdentityClient(clientId: string, metadata: Record<string, unknown>): ClientMetadata {
  return {
    client_id: clientId,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'billing:read',
    baton_resources: [],
    ...metadata,
  } as ClientMetadata;
}

function thumbprintOf(pem: string): string {
  return Buffer.from(new X509Certificate(pem).fingerprint256.replaceAll(':', ''), 'hex').toString(
    'base64url',
  );
}

async function post(fetcher: typeof fetch, url: string, form: Record<string, string>, headers = {}) {
  const response = await fetcher(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  const body = (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
  return { status: response.status, body, headers: response.headers };
}

interface Pki {
  ca: CertificateAuthority;
  other: CertificateAuthority;
  server: WorkloadCertificate;
  mtls: WorkloadCertificate;
  dn: WorkloadCertificate;
  orders: WorkloadCertificate;
  wrongSan: WorkloadCertificate;
  foreign: WorkloadCertificate;
  /** Another trust domain's CA, trusted beside the broker's own (`clientCa`). */
  partner: CertificateAuthority;
  /** A certificate the partner CA issued with the very SPIFFE ID `mtls-service` registered. */
  partnerImpostor: WorkloadCertificate;
  selfSigned: SelfSignedClient;
  otherSelfSigned: SelfSignedClient;
}

async function makePki(): Promise<Pki> {
  const ca = await createCertificateAuthority({ trustDomain: 'baton.test', subject: 'CN=Baton workload CA' });
  // Another CA of the same trust domain: its certificates carry the very names the broker's CA issues.
  const other = await createCertificateAuthority({ trustDomain: 'baton.test', subject: 'CN=Another CA' });
  const partner = await createCertificateAuthority({ trustDomain: 'partner.test', subject: 'CN=Partner CA' });
  const client = (authority: CertificateAuthority, spiffeId: string, subject: string) =>
    issueWorkloadCertificate(authority, { spiffeId, subject, usage: 'client' });
  return {
    ca,
    other,
    partner,
    // Baton's issuer writes only its own trust domain's IDs, so the partner CA is relabelled to misbehave.
    partnerImpostor: await client({ ...partner, trustDomain: 'baton.test' }, MTLS_SPIFFE, 'CN=impostor'),
    server: await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/broker',
      subject: 'CN=broker',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    }),
    mtls: await client(ca, MTLS_SPIFFE, 'CN=mtls-service, O=Baton'),
    // Subject RDNs in certificate order: C, O, CN. Registered by its subject DN, not its SPIFFE ID.
    dn: await client(ca, 'spiffe://baton.test/dn-service', 'C=DE, O=Baton, CN=dn-service'),
    orders: await client(ca, ORDERS_SPIFFE, 'CN=orders-workload, O=Baton'),
    wrongSan: await client(ca, 'spiffe://baton.test/intruder', 'CN=intruder, O=Baton'),
    foreign: await client(other, MTLS_SPIFFE, 'CN=mtls-service, O=Baton'),
    selfSigned: await selfSignedClient('CN=self-signed-service'),
    otherSelfSigned: await selfSignedClient('CN=self-signed-service'),
  };
}

function clientsFor(pki: Pki): ClientMetadata[] {
  return [
    workloadClientMetadata({
      clientId: 'mtls-service',
      spiffeId: MTLS_SPIFFE,
      resources: [],
      grantTypes: ['client_credentials'],
      scopes: ['billing:read'],
    }) as ClientMetadata,
    serviceIdentityClient('dn-service', {
      token_endpoint_auth_method: 'tls_client_auth',
      // RFC 4514 order (as `openssl x509 -nameopt RFC2253` prints it): the last RDN first.
      tls_client_auth_subject_dn: 'CN=dn-service,O=Baton,C=DE',
    }),
    serviceIdentityClient('self-signed-service', {
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [pki.selfSigned.jwk] },
      tls_client_certificate_bound_access_tokens: true,
    }),
    workloadClientMetadata({
      clientId: 'orders-workload',
      spiffeId: ORDERS_SPIFFE,
      resources: [ORDERS_MCP],
    }) as ClientMetadata,
  ];
}

function lastEvent(stack: BrokerStack, client: string): AuditEvent {
  // A service-identity event names the client as agent; an exchange names it first in the chain.
  const event = stack.audit.events
    .filter((candidate) => candidate.agent.client_id === client || candidate.chain?.[0] === client)
    .at(-1);
  assert.ok(event, `an audit event for ${client}`);
  return event;
}

describe('sender-constrained tokens at the broker: DPoP and mutual TLS (optional client certificates)', () => {
  let pki: Pki;
  let stack: BrokerStack;
  let issuer: string;
  let dpopService: ServiceCredentials;
  let dpopExchanger: ServiceCredentials;
  /** HTTPS trusting the test CA, presenting no client certificate. */
  let anonymous: typeof fetch;
  const withCertificate = (identity: TlsIdentity) => fetchTrusting(pki.ca.certificatePem, identity);

  before(async () => {
    pki = await makePki();
    dpopService = await serviceCredentials('dpop-service');
    dpopExchanger = await serviceCredentials('dpop-exchanger');
    stack = await startBrokerStack(
      {
        tls: {
          cert: pki.server.chainPem,
          key: pki.server.privateKeyPem,
          clientCa: [pki.ca.certificatePem, pki.partner.certificatePem],
        },
        policy: createCedarPolicyEngine({
          policies: `${POLICY}\n${SERVICE_RULES}\n${WORKLOAD_RULE}`,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
      },
      [
        ...clientsFor(pki),
        serviceClientMetadata({
          clientId: 'dpop-service',
          jwks: dpopService.jwks,
          resources: [],
          grantTypes: ['client_credentials'],
          scopes: ['billing:read'],
          dpopBound: true,
        }) as ClientMetadata,
        serviceClientMetadata({
          clientId: 'dpop-exchanger',
          jwks: dpopExchanger.jwks,
          resources: [ORDERS_MCP],
          dpopBound: true,
        }) as ClientMetadata,
      ],
    );
    issuer = stack.broker.issuer;
    anonymous = fetchTrusting(pki.ca.certificatePem);
  });
  after(() => stack?.close());

  it('serves HTTPS, and advertises certificate-bound tokens and DPoP algorithms', async () => {
    assert.match(issuer, /^https:\/\/127\.0\.0\.1:/);
    const metadata = (await (
      await anonymous(`${issuer}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, unknown>;
    assert.equal(metadata.tls_client_certificate_bound_access_tokens, true);
    assert.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes('tls_client_auth'));
    assert.ok(
      (metadata.token_endpoint_auth_methods_supported as string[]).includes('self_signed_tls_client_auth'),
    );
    assert.ok(Array.isArray(metadata.dpop_signing_alg_values_supported));
  });

  it('binds an exchanged token to the DPoP key the service proves (cnf.jkt, token_type DPoP), introspectable with cnf, revocable', async () => {
    const dpop = await dpopKey();
    const orders = { clientId: 'orders-mcp', jwks: { keys: [] }, assertion: stack.orders.assertion };
    const answer = await exchangeToken(
      issuer,
      orders,
      { subjectToken: await stack.userToken(), resource: BILLING_MCP, scope: ['billing:read'] },
      { dpop, fetch: anonymous },
    );
    assert.equal(answer.token_type, 'DPoP');
    const claims = decodeJwt(answer.access_token);
    assert.deepEqual(claims.cnf, { jkt: dpop.thumbprint });
    assert.deepEqual(lastEvent(stack, 'orders-mcp').cnf, { jkt: dpop.thumbprint });
    const introspected = await post(anonymous, `${issuer}/token/introspection`, {
      token: answer.access_token,
      client_id: 'orders-mcp',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await stack.orders.assertion(issuer),
    });
    assert.equal(introspected.body.active, true);
    assert.equal(introspected.body.token_type, 'DPoP');
    assert.deepEqual(introspected.body.cnf, { jkt: dpop.thumbprint });

    // Recorded like any other token: RFC 7009 revocation by its client makes it inactive.
    const ordersAuthentication = async () => ({
      client_id: 'orders-mcp',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await stack.orders.assertion(issuer),
    });
    const revoked = await post(anonymous, `${issuer}/token/revocation`, {
      token: answer.access_token,
      ...(await ordersAuthentication()),
    });
    assert.equal(revoked.status, 200);
    const after = await post(anonymous, `${issuer}/token/introspection`, {
      token: answer.access_token,
      ...(await ordersAuthentication()),
    });
    assert.deepEqual(after.body, { active: false });
  });

  it('refuses a token to a dpop_bound_access_tokens client that sends no proof (invalid_grant, dpop_proof_missing)', async () => {
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        dpopService,
        { resource: BILLING_API, scope: ['billing:read'] },
        { fetch: anonymous },
      ),
      (error: unknown) => error instanceof TokenRequestError && error.error === 'invalid_grant',
    );
    assert.equal(lastEvent(stack, 'dpop-service').reason, 'dpop_proof_missing');
    const dpop = await dpopKey();
    const answer = await clientCredentialsToken(
      issuer,
      dpopService,
      { resource: BILLING_API, scope: ['billing:read'] },
      { dpop, fetch: anonymous },
    );
    assert.equal(answer.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(answer.access_token).cnf, { jkt: dpop.thumbprint });
  });

  it('refuses a replayed DPoP proof (invalid_dpop_proof, dpop_proof_replayed)', async () => {
    const dpop = await dpopKey();
    const proof = await dpop.proof({ method: 'POST', url: `${issuer}/token` });
    const request = async () =>
      post(
        anonymous,
        `${issuer}/token`,
        {
          grant_type: 'client_credentials',
          resource: BILLING_API,
          scope: 'billing:read',
          client_id: 'dpop-service',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await dpopService.assertion(issuer),
        },
        { dpop: proof },
      );
    assert.equal((await request()).status, 200);
    const replayed = await request();
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.error, 'invalid_dpop_proof');
    assert.equal(lastEvent(stack, 'dpop-service').reason, 'dpop_proof_replayed');
  });

  it('refuses a DPoP proof made for another endpoint (invalid_dpop_proof, dpop_proof_invalid)', async () => {
    const dpop = await dpopKey();
    const answer = await post(
      anonymous,
      `${issuer}/token`,
      {
        grant_type: 'client_credentials',
        resource: BILLING_API,
        client_id: 'dpop-service',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await dpopService.assertion(issuer),
      },
      { dpop: await dpop.proof({ method: 'POST', url: `${issuer}/token/introspection` }) },
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_dpop_proof');
    assert.equal(lastEvent(stack, 'dpop-service').reason, 'dpop_proof_invalid');
  });

  /** A token exchange for a Transaction Token (RFC 8693, draft-ietf-oauth-transaction-tokens-10), with a DPoP proof. */
  const txnTokenExchange = async (credentials: Pick<ServiceCredentials, 'assertion'>, clientId: string) => {
    const dpop = await dpopKey();
    return post(
      anonymous,
      `${issuer}/token`,
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await stack.userToken(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: BILLING_MCP,
        audience: 'baton.test',
        requested_token_type: TXN_TOKEN_TYPE,
        scope: 'billing:read',
        client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await credentials.assertion(issuer),
      },
      { dpop: await dpop.proof({ method: 'POST', url: `${issuer}/token` }) },
    );
  };

  it('refuses to audit a cnf the issued token does not carry', async () => {
    // A Txn-Token cannot be bound: the proof is verified and spent, the token is N_A, and so is the audit.
    const answer = await txnTokenExchange(stack.orders, 'orders-mcp');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.token_type, 'N_A');
    assert.equal(decodeJwt(answer.body.access_token as string).cnf, undefined);
    const event = lastEvent(stack, 'orders-mcp');
    assert.equal(event.outcome, 'ok');
    assert.equal(event.cnf, undefined, 'no cnf the token does not carry');
  });

  it('refuses an unbound Txn-Token to a client registered for DPoP-bound tokens', async () => {
    const answer = await txnTokenExchange(dpopExchanger, 'dpop-exchanger');
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_request');
    assert.equal(lastEvent(stack, 'dpop-exchanger').reason, 'binding_not_supported');
  });

  it('refuses a replacement Txn-Token to a client registered for DPoP-bound tokens, before reading the token', async () => {
    const dpop = await dpopKey();
    const answer = await post(
      anonymous,
      `${issuer}/token`,
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        // Never read: the client is refused before its subject token is.
        subject_token: 'not-a-txn-token',
        subject_token_type: TXN_TOKEN_TYPE,
        audience: 'baton.test',
        requested_token_type: TXN_TOKEN_TYPE,
        scope: 'orders:read',
        client_id: 'dpop-exchanger',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await dpopExchanger.assertion(issuer),
      },
      { dpop: await dpop.proof({ method: 'POST', url: `${issuer}/token` }) },
    );
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'invalid_request');
    assert.equal(lastEvent(stack, 'dpop-exchanger').reason, 'binding_not_supported');
  });

  it('refuses a token-endpoint DPoP proof whose htu host came from the Host header', async () => {
    const dpop = await dpopKey();
    const port = new URL(issuer).port;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      resource: BILLING_API,
      scope: 'billing:read',
      client_id: 'dpop-service',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await dpopService.assertion(issuer),
    }).toString();
    // A proof made for another server's token endpoint, sent here with that server's name as Host
    // (the broker's certificate is still checked, against 127.0.0.1).
    const dpopProof = await dpop.proof({ method: 'POST', url: `https://other-server.example:${port}/token` });
    const answer = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const outgoing = httpsRequest(
        `${issuer}/token`,
        {
          method: 'POST',
          ca: pki.ca.certificatePem,
          agent: false,
          checkServerIdentity: (_host, certificate) => checkServerIdentity('127.0.0.1', certificate),
          headers: {
            host: `other-server.example:${port}`,
            'content-type': 'application/x-www-form-urlencoded',
            dpop: dpopProof,
          },
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk) => chunks.push(chunk));
          incoming.on('end', () =>
            resolve({ status: incoming.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
          );
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_dpop_proof');
    assert.equal(lastEvent(stack, 'dpop-service').reason, 'dpop_proof_invalid');
  });

  it('authenticates a tls_client_auth client by its SPIFFE ID and binds its token to the certificate (cnf.x5t#S256)', async () => {
    const answer = await clientCredentialsToken(
      issuer,
      tlsClientCredentials('mtls-service'),
      { resource: BILLING_API, scope: ['billing:read'] },
      { fetch: withCertificate(pki.mtls) },
    );
    assert.equal(answer.token_type, 'Bearer');
    assert.deepEqual(decodeJwt(answer.access_token).cnf, {
      'x5t#S256': thumbprintOf(pki.mtls.certificatePem),
    });
    const event = lastEvent(stack, 'mtls-service');
    assert.equal(event.outcome, 'ok');
    assert.deepEqual(event.cnf, { 'x5t#S256': thumbprintOf(pki.mtls.certificatePem) });
    assert.equal(event.workload_id, MTLS_SPIFFE);
  });

  it('authenticates a tls_client_auth client by its subject DN', async () => {
    const answer = await clientCredentialsToken(
      issuer,
      tlsClientCredentials('dn-service'),
      { resource: BILLING_API, scope: ['billing:read'] },
      { fetch: withCertificate(pki.dn) },
    );
    assert.equal(decodeJwt(answer.access_token).cnf, undefined, 'not certificate-bound unless registered so');
  });

  const refusedClient = (error: unknown) =>
    error instanceof TokenRequestError && error.status === 401 && error.error === 'invalid_client';

  it('refuses a tls_client_auth client that presents no certificate (invalid_client)', async () => {
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API },
        { fetch: anonymous },
      ),
      refusedClient,
    );
  });

  it('refuses a certificate another CA issued, though its names match (invalid_client)', async () => {
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API },
        { fetch: fetchTrusting(pki.ca.certificatePem, pki.foreign) },
      ),
      refusedClient,
    );
  });

  it("refuses a SPIFFE ID issued by another trust domain's CA (invalid_client)", async () => {
    // The partner CA is trusted, so the handshake verifies the certificate; its SPIFFE ID is baton.test's.
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API },
        { fetch: withCertificate(pki.partnerImpostor) },
      ),
      refusedClient,
    );
  });

  it('refuses a client certificate swapped in by TLS renegotiation', async () => {
    // A TLS 1.2 client verified once could renegotiate with an unverified certificate naming another
    // client while Node kept `authorized` true: the broker's listener refuses renegotiation.
    const { port } = new URL(issuer);
    const socket = connect({
      cert: pki.mtls.chainPem,
      key: pki.mtls.privateKeyPem,
      ca: pki.ca.certificatePem,
      host: '127.0.0.1',
      port: Number(port),
      maxVersion: 'TLSv1.2',
    });
    try {
      await once(socket, 'secureConnect');
      assert.equal(socket.getProtocol(), 'TLSv1.2');
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(String(error.code)));
        socket.renegotiate({}, (error) =>
          resolve(error ? String((error as NodeJS.ErrnoException).code) : 'renegotiated'),
        );
      });
      assert.equal(outcome, 'ERR_SSL_NO_RENEGOTIATION');
    } finally {
      socket.destroy();
    }
  });

  it('refuses tls_client_auth with a certificate that expired after the handshake (invalid_client)', async () => {
    const shortLived = await issueWorkloadCertificate(pki.ca, {
      spiffeId: MTLS_SPIFFE,
      usage: 'client',
      lifetimeSeconds: 2,
    });
    const agent = new Agent({
      ...clientTlsOptions({ identity: shortLived, ca: pki.ca.certificatePem }),
      keepAlive: true,
      maxSockets: 1,
    });
    const keptAlive = fetchTrusting(pki.ca.certificatePem, shortLived, agent);
    const request = () =>
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API, scope: ['billing:read'] },
        { fetch: keptAlive },
      );
    try {
      assert.deepEqual(decodeJwt((await request()).access_token).cnf, {
        'x5t#S256': shortLived.thumbprint,
      });
      await new Promise((resolve) => setTimeout(resolve, shortLived.notAfter.getTime() - Date.now() + 100));
      await assert.rejects(request(), refusedClient);
      const sockets = Object.values(agent.freeSockets).flat().length;
      assert.equal(sockets, 1, 'the same kept-alive connection');
    } finally {
      agent.destroy();
    }
  });

  it('refuses a trusted certificate whose SPIFFE ID or subject is not the registered one (invalid_client)', async () => {
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API },
        { fetch: withCertificate(pki.wrongSan) },
      ),
      refusedClient,
    );
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('dn-service'),
        { resource: BILLING_API },
        { fetch: withCertificate(pki.mtls) },
      ),
      refusedClient,
    );
  });

  it('authenticates a self_signed_tls_client_auth client by its registered certificate, bound to it; refuses another', async () => {
    const credentials = tlsClientCredentials('self-signed-service', 'self_signed_tls_client_auth');
    const answer = await clientCredentialsToken(
      issuer,
      credentials,
      { resource: BILLING_API, scope: ['billing:read'] },
      { fetch: fetchTrusting(pki.ca.certificatePem, pki.selfSigned) },
    );
    assert.deepEqual(decodeJwt(answer.access_token).cnf, {
      'x5t#S256': thumbprintOf(pki.selfSigned.certificatePem),
    });
    assert.equal(
      lastEvent(stack, 'self-signed-service').workload_id,
      undefined,
      'a self-signed name is not a workload identity',
    );
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        credentials,
        { resource: BILLING_API },
        {
          fetch: fetchTrusting(pki.ca.certificatePem, pki.otherSelfSigned),
        },
      ),
      refusedClient,
    );
  });

  it('records the workload SPIFFE ID of the exchanging service in the act chain and the audit; introspection shows cnf.x5t#S256', async () => {
    const answer = await exchangeToken(
      issuer,
      tlsClientCredentials('orders-workload'),
      { subjectToken: await stack.userToken(), resource: BILLING_MCP, scope: ['billing:read'] },
      { fetch: withCertificate(pki.orders) },
    );
    const claims = decodeJwt(answer.access_token);
    assert.deepEqual(claims.cnf, { 'x5t#S256': thumbprintOf(pki.orders.certificatePem) });
    const act = parseAct(claims.act);
    assert.equal(act?.sub, 'orders-workload');
    assert.equal(act?.spiffe_id, ORDERS_SPIFFE);
    assert.ok(act?.act, 'the agent is still innermost');
    const event = lastEvent(stack, 'orders-workload');
    assert.equal(event.workload_id, ORDERS_SPIFFE);
    assert.deepEqual(event.cnf, { 'x5t#S256': thumbprintOf(pki.orders.certificatePem) });
    // RFC 8705 §3.2: introspection tells the resource server the certificate the token is bound to.
    const introspected = await post(withCertificate(pki.orders), `${issuer}/token/introspection`, {
      token: answer.access_token,
      client_id: 'orders-workload',
    });
    assert.equal(introspected.body.active, true);
    assert.equal(introspected.body.token_type, 'Bearer');
    assert.deepEqual(introspected.body.cnf, { 'x5t#S256': thumbprintOf(pki.orders.certificatePem) });

    // The next hop exchanges it on (a bound subject token is the next hop's to check, not the broker's):
    // the orders workload's SPIFFE ID stays in its entry of the chain.
    const billing = { clientId: 'billing-mcp', jwks: { keys: [] }, assertion: stack.billing.assertion };
    const onward = await exchangeToken(
      issuer,
      billing,
      { subjectToken: answer.access_token, resource: BILLING_API, scope: ['billing:read'] },
      { fetch: anonymous },
    );
    const chain = parseAct(decodeJwt(onward.access_token).act);
    assert.equal(chain?.sub, 'billing-mcp');
    assert.equal(
      chain?.spiffe_id,
      undefined,
      'billing-mcp authenticated by private_key_jwt: no workload identity',
    );
    assert.equal(chain?.act?.sub, 'orders-workload');
    assert.equal(chain?.act?.spiffe_id, ORDERS_SPIFFE);
  });

  it('never writes a token, a DPoP proof or a certificate to the log or the audit', () => {
    const written = JSON.stringify([stack.logs, stack.audit.events]);
    assert.equal(/eyJ[\w-]+\.eyJ/.test(written), false, 'no JWT (token, assertion or proof)');
    assert.equal(written.includes('BEGIN CERTIFICATE'), false);
  });
});

describe('required client certificates and DPoP nonces', () => {
  let pki: Pki;
  let stack: BrokerStack;
  let issuer: string;

  before(async () => {
    pki = await makePki();
    stack = await startBrokerStack(
      {
        tls: {
          cert: pki.server.chainPem,
          key: pki.server.privateKeyPem,
          clientCa: pki.ca.certificatePem,
          clientCertificates: 'required',
        },
        dpop: { nonceSecret: Buffer.alloc(32, 7).toString('base64url'), requireNonce: true },
        policy: createCedarPolicyEngine({
          policies: `${POLICY}\n${SERVICE_RULES}`,
          defaults: { lifetimeSeconds: 300, maxDepth: 3 },
        }),
      },
      clientsFor(pki).filter((client) => client.client_id !== 'self-signed-service'),
    );
    issuer = stack.broker.issuer;
  });
  after(() => stack?.close());

  it('refuses at the TLS handshake a connection without a client certificate', async () => {
    await assert.rejects(fetchTrusting(pki.ca.certificatePem)(`${issuer}/jwks`));
  });

  it('refuses at the TLS handshake a client certificate another CA issued', async () => {
    await assert.rejects(fetchTrusting(pki.ca.certificatePem, pki.foreign)(`${issuer}/jwks`));
  });

  it('answers a proof without the server nonce with use_dpop_nonce and a DPoP-Nonce; the client retries with it', async () => {
    // dn-service authenticates by its certificate (tls_client_auth); its tokens are not certificate-bound.
    const fetcher = fetchTrusting(pki.ca.certificatePem, pki.dn);
    const dpop = await dpopKey();
    const first = await post(
      fetcher,
      `${issuer}/token`,
      { grant_type: 'client_credentials', resource: BILLING_API, client_id: 'dn-service' },
      { dpop: await dpop.proof({ method: 'POST', url: `${issuer}/token` }) },
    );
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'use_dpop_nonce');
    assert.ok(first.headers.get('dpop-nonce'));
    assert.equal(lastEvent(stack, 'dn-service').reason, 'dpop_nonce_required');
    const key = await dpopKey();
    const answer = await clientCredentialsToken(
      issuer,
      tlsClientCredentials('dn-service'),
      { resource: BILLING_API, scope: ['billing:read'] },
      { dpop: key, fetch: fetcher },
    );
    assert.equal(answer.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(answer.access_token).cnf, { jkt: key.thumbprint });
  });

  it('refuses a DPoP proof from a client whose tokens are certificate-bound: one binding per token (invalid_request)', async () => {
    await assert.rejects(
      clientCredentialsToken(
        issuer,
        tlsClientCredentials('mtls-service'),
        { resource: BILLING_API, scope: ['billing:read'] },
        {
          dpop: await dpopKey(),
          fetch: fetchTrusting(pki.ca.certificatePem, pki.mtls),
        },
      ),
      (error: unknown) => error instanceof TokenRequestError && error.error === 'invalid_request',
    );
    assert.equal(lastEvent(stack, 'mtls-service').reason, 'proof_of_possession_conflict');
  });
});

describe('sender-constraint options are checked when the broker is built', () => {
  const base = (): BrokerOptions => ({
    trustedIssuers: [{ issuer: 'https://idp.example' }],
    audiences: [{ resource: BILLING_API, scopes: ['billing:read'] }],
    policy: createCedarPolicyEngine({ policies: POLICY, defaults: { lifetimeSeconds: 300, maxDepth: 3 } }),
    audit: new MemoryAuditSink(),
    initialAccessToken: 'sender-constraint-initial-access-token',
  });

  it('refuses client certificates without a client CA (Node would trust its public roots for them)', async () => {
    await assert.rejects(
      startBroker({ ...base(), tls: { cert: 'x', key: 'y', clientCertificates: 'optional' } }),
      (error: unknown) => error instanceof TypeError && /needs tls\.clientCa/.test(error.message),
    );
  });

  it('refuses requireNonce without a nonce secret, and a nonce secret that is not 32 bytes', async () => {
    await assert.rejects(startBroker({ ...base(), dpop: { requireNonce: true } }), TypeError);
    await assert.rejects(
      startBroker({ ...base(), dpop: { nonceSecret: Buffer.alloc(16).toString('base64url') } }),
      TypeError,
    );
  });
});

/** A gateway serving the broker under `/broker`, forwarding without the prefix. */
const GATEWAY = 'https://gw.example/broker';
for (const ISSUER of [GATEWAY, `${GATEWAY}/`]) {
  describe(`the token endpoint under an issuer with a path (behind a gateway): ${ISSUER}`, () => {
    let stack: BrokerStack;
    let dpopService: ServiceCredentials;
    /** The gateway: what a client sends to `<GATEWAY>/…` reaches the broker at `/…`. */
    let gateway: typeof fetch;

    before(async () => {
      dpopService = await serviceCredentials('dpop-service');
      stack = await startBrokerStack(
        {
          issuer: ISSUER,
          policy: createCedarPolicyEngine({
            policies: `${POLICY}\n${SERVICE_RULES}`,
            defaults: { lifetimeSeconds: 300, maxDepth: 3 },
          }),
        },
        [
          serviceClientMetadata({
            clientId: 'dpop-service',
            jwks: dpopService.jwks,
            resources: [],
            grantTypes: ['client_credentials'],
            scopes: ['billing:read'],
            dpopBound: true,
          }) as ClientMetadata,
        ],
      );
      gateway = (input, init) => {
        const url = String(input);
        assert.ok(url.startsWith(`${GATEWAY}/`) && !url.startsWith(`${GATEWAY}//`), url);
        return fetch(new URL(url.slice(GATEWAY.length + 1), stack.broker.url), init);
      };
    });
    after(() => stack?.close());

    it('accepts a token-endpoint DPoP proof for an issuer with a path', async () => {
      const dpop = await dpopKey();
      const answer = await clientCredentialsToken(
        ISSUER,
        dpopService,
        { resource: BILLING_API, scope: ['billing:read'] },
        { dpop, fetch: gateway },
      );
      assert.equal(answer.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(answer.access_token).cnf, { jkt: dpop.thumbprint });
    });
  });
}
