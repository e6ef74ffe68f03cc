import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { MemoryAuditSink } from '@baton/audit';
import { type ServiceCredentials, serviceCredentials } from '@baton/broker-client';
import { EnvelopeIssuer, EnvelopeKeyRing } from '@baton/envelope';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  serverTlsOptions,
  type WorkloadCertificate,
} from '@baton/workload-identity';
import { UnsecuredJWT } from 'jose';
import { DownstreamClient } from '../src/downstream/client.ts';
import { type ClientTls, type DownstreamService, indexServices } from '../src/downstream/services.ts';
import { TokenCache } from '../src/downstream/token-cache.ts';
import { startHopSpan } from '../src/telemetry.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** What a TLS peer saw of the client: the certificate's x5t#S256 and URI SANs, from the connection. */
interface Seen {
  thumbprint: string | undefined;
  uris: string[];
  authorization: string | undefined;
  token?: string;
}

function peerOf(socket: TLSSocket): Pick<Seen, 'thumbprint' | 'uris'> {
  const certificate = socket.getPeerCertificate();
  if (!certificate?.raw) return { thumbprint: undefined, uris: [] };
  return {
    thumbprint: createHash('sha256').update(certificate.raw).digest('base64url'),
    uris: (certificate.subjectaltname ?? '')
      .split(', ')
      .filter((name) => name.startsWith('URI:'))
      .map((name) => name.slice(4)),
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('downstream calls over mutual TLS (RFC 8705)', () => {
  let ca: CertificateAuthority;
  let server: WorkloadCertificate;
  let mine: WorkloadCertificate;
  let other: WorkloadCertificate;
  let credentials: ServiceCredentials;
  const brokerSeen: Seen[] = [];
  const apiSeen: Seen[] = [];
  /** Which certificate (x5t#S256) each token the broker issued is bound to. */
  const boundTo = new Map<string, string | undefined>();
  let brokerUrl: string;
  let apiUrl: string;
  let broker: Server;
  let api: Server;
  let brokerCnf: 'opaque' | 'bound' | 'unbound' = 'opaque';
  const dispatchers: Array<{ close(): Promise<void> }> = [];
  const envelopes = new EnvelopeIssuer({
    issuer: 'https://127.0.0.1:9/tools/mcp',
    trustDomain: 'baton.test',
    keys: EnvelopeKeyRing.generate({ retentionSeconds: 600 }),
  });

  const clientTls = (certificate: WorkloadCertificate): ClientTls => {
    const dispatcher = mutualTlsDispatcher({ identity: certificate, ca: ca.certificatePem });
    dispatchers.push(dispatcher);
    return { certificate: certificate.certificatePem, dispatcher };
  };

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    server = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/peers',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    mine = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/tools-mcp', usage: 'client' });
    other = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/other-mcp',
      usage: 'client',
    });
    credentials = await serviceCredentials('tools-mcp');
    const tls = serverTlsOptions({ identity: server, ca: ca.certificatePem, requireClientCertificate: true });
    // The broker binds each token to the certificate of the connection it was asked for on.
    let issued = 0;
    broker = createServer(tls, (request, response) => {
      request.resume();
      request.on('end', () => {
        const peer = peerOf(request.socket as TLSSocket);
        brokerSeen.push({ ...peer, authorization: request.headers.authorization });
        // Opaque by default; a JWT (unsigned: the client only reads it) naming `cnf` as `brokerCnf` says.
        const token =
          brokerCnf === 'opaque'
            ? `tok-${++issued}`
            : new UnsecuredJWT({
                jti: `tok-${++issued}`,
                ...(brokerCnf === 'bound' ? { cnf: { 'x5t#S256': peer.thumbprint } } : {}),
              }).encode();
        boundTo.set(token, peer.thumbprint);
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300 }));
      });
    });
    // The API serves a certificate-bound token only on a connection presenting that certificate.
    api = createServer(tls, (request, response) => {
      const peer = peerOf(request.socket as TLSSocket);
      const token = request.headers.authorization?.replace(/^Bearer /, '');
      apiSeen.push({ ...peer, authorization: request.headers.authorization, ...(token ? { token } : {}) });
      const bound = token === undefined ? undefined : boundTo.get(token);
      response.statusCode = bound !== undefined && bound === peer.thumbprint ? 200 : 401;
      response.end(JSON.stringify({ caller: peer.uris }));
    });
    brokerUrl = await listen(broker);
    apiUrl = `${await listen(api)}/api`;
  });
  after(async () => {
    for (const dispatcher of dispatchers) await dispatcher.close();
    for (const peer of [broker, api]) {
      peer.closeAllConnections();
      await new Promise<void>((resolve) => peer.close(() => resolve()));
    }
  });
  beforeEach(() => {
    brokerCnf = 'opaque';
    brokerSeen.length = 0;
    apiSeen.length = 0;
  });

  function clientFor(services: DownstreamService[], tls?: ClientTls) {
    const options = { broker: { issuer: brokerUrl, credentials }, services, ...(tls ? { tls } : {}) };
    const settings = {
      options,
      services: indexServices(services, options),
      serviceTokens: new TokenCache(),
      delegatedTokens: new TokenCache(),
      audit: new MemoryAuditSink(),
      component: 'tools-mcp',
    };
    const make = () => {
      const minted = envelopes.mint({
        actor: { type: 'user', sub: 'user-alice', tenant: 'acme' },
        agent: { type: 'ai_agent', id: 'agent-1', client_id: 'agent-1' },
        session: { id: 'session-1', trace_id: TRACE_ID },
        authorization: { scopes: ['orders:read'], confidence: 'medium' },
        delegation: { mode: 'on_behalf_of', allowed: [apiUrl] },
      });
      return new DownstreamClient(
        {
          envelope: minted.envelope,
          envelopeToken: () => minted.token,
          subjectToken: 'subject-token',
          subjectIssuer: 'https://idp.example',
          hop: startHopSpan('tool t', 'server', { traceId: TRACE_ID, parentSpanId: undefined }),
        },
        settings,
      );
    };
    return Object.assign(make, { audit: settings.audit });
  }

  it('presents the declared client certificate to the broker and to the service', async () => {
    const tls = clientTls(mine);
    const make = clientFor([
      {
        name: 'api',
        url: apiUrl,
        mode: 'on_behalf_of',
        scopes: ['orders:read'],
        senderConstraint: { mtls: tls },
      },
    ]);
    const client = make();
    const response = await client.fetch('api', 'orders');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { caller: ['spiffe://baton.test/tools-mcp'] });
    assert.equal(brokerSeen.length, 1);
    assert.equal(brokerSeen[0]!.thumbprint, mine.thumbprint, 'the broker saw the certificate to bind');
    assert.deepEqual(brokerSeen[0]!.uris, ['spiffe://baton.test/tools-mcp']);
    assert.equal(apiSeen[0]!.thumbprint, mine.thumbprint);
    assert.match(String(apiSeen[0]!.authorization), /^Bearer tok-/);
    assert.deepEqual(make.audit.events.at(-1)?.cnf, { 'x5t#S256': mine.thumbprint });
  });

  it("presents the server's own certificate (downstream.tls) to services without a constraint of their own", async () => {
    const client = clientFor(
      [{ name: 'api', url: apiUrl, mode: 'on_behalf_of', scopes: [] }],
      clientTls(mine),
    )();
    assert.equal((await client.fetch('api', 'orders')).status, 200);
    assert.equal(brokerSeen[0]!.thumbprint, mine.thumbprint);
    assert.equal(apiSeen[0]!.thumbprint, mine.thumbprint);
  });

  it('never serves a token bound to one certificate over a connection presenting another', async () => {
    // One server, two declarations of one audience, each with its certificate: two tokens, each sent
    // only over its own certificate's connections.
    const client = clientFor([
      {
        name: 'as-mine',
        url: apiUrl,
        mode: 'on_behalf_of',
        scopes: [],
        senderConstraint: { mtls: clientTls(mine) },
      },
      {
        name: 'as-other',
        url: apiUrl,
        mode: 'on_behalf_of',
        scopes: [],
        senderConstraint: { mtls: clientTls(other) },
      },
    ])();
    assert.equal((await client.fetch('as-mine', 'orders')).status, 200);
    assert.equal((await client.fetch('as-other', 'orders')).status, 200);
    assert.equal(brokerSeen.length, 2, 'a token of its own for each certificate');
    assert.notEqual(apiSeen[0]!.token, apiSeen[1]!.token);
    assert.deepEqual(
      apiSeen.map((seen) => seen.thumbprint),
      [mine.thumbprint, other.thumbprint],
    );
  });

  it("refuses a token without the certificate's cnf for a service declared mtls (token_binding_mismatch)", async () => {
    const service: DownstreamService = {
      name: 'api',
      url: apiUrl,
      mode: 'on_behalf_of',
      scopes: [],
      senderConstraint: { mtls: clientTls(mine) },
    };
    brokerCnf = 'unbound';
    const make = clientFor([service]);
    await assert.rejects(make().fetch('api', 'orders'), { code: 'ERR_DOWNSTREAM_TOKEN_REFUSED' });
    assert.equal(apiSeen.length, 0, 'the unbound token was never sent');
    assert.equal(make.audit.events.at(-1)?.outcome, 'denied');
    assert.equal(make.audit.events.at(-1)?.reason, 'token_binding_mismatch');
    // A JWT naming this certificate is sent.
    brokerCnf = 'bound';
    assert.equal((await clientFor([service])().fetch('api', 'orders')).status, 200);
  });

  it('a server without its certificate reaches no hop that requires one, and fails closed', async () => {
    const client = clientFor([{ name: 'api', url: apiUrl, mode: 'on_behalf_of', scopes: [] }])();
    // Without its certificate the broker's handshake refuses it: no token, no call, `unavailable`.
    await assert.rejects(client.fetch('api', 'orders'), { code: 'ERR_DOWNSTREAM_UNAVAILABLE' });
    assert.equal(apiSeen.length, 0);
  });
});
