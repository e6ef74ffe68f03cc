import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import {
  type CertificateAuthority,
  clientTlsOptions,
  createCertificateAuthority,
  issueWorkloadCertificate,
  serverTlsOptions,
  type WorkloadCertificate,
} from '@baton/workload-identity';
import * as x509 from '@peculiar/x509';
import type { ClientCertificate } from '../src/index.ts';
import { type FetchHandler, serveNodeRequests } from '../src/node/index.ts';

/** Answers with the certificate the Node adapter handed the fetch handler. */
const echo: FetchHandler = {
  async fetch(_request, options) {
    return Response.json({ clientCertificate: options?.clientCertificate ?? null });
  },
};

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function get(
  url: string,
  agent: Agent | false,
  tls: ReturnType<typeof clientTlsOptions>,
  headers: Record<string, string> = {},
): Promise<{ clientCertificate: ClientCertificate | null }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** How many connections an agent has opened (free and in use). */
function resumedOrKept(agent: Agent): number {
  const sockets = [...Object.values(agent.freeSockets), ...Object.values(agent.sockets)];
  return sockets.reduce((count, list) => count + (list?.length ?? 0), 0);
}

describe('clientCertificateOf through the Node adapter (real TLS on 127.0.0.1)', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let client: WorkloadCertificate;
  let required: Server;
  let optional: Server;
  let requiredUrl: string;
  let optionalUrl: string;
  const resumed: boolean[] = [];

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    otherCa = await createCertificateAuthority({ trustDomain: 'baton.test' });
    const identity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    client = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp/travel',
      usage: 'client',
      subject: 'O=Baton, CN=travel',
    });
    required = serveNodeRequests(
      createServer(serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: true })),
      echo,
    );
    required.on('request', (req) => resumed.push((req.socket as TLSSocket).isSessionReused()));
    optional = serveNodeRequests(
      createServer(serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: false })),
      echo,
    );
    requiredUrl = `https://127.0.0.1:${await listen(required)}/`;
    optionalUrl = `https://127.0.0.1:${await listen(optional)}/`;
  });
  after(() => {
    for (const server of [required, optional]) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('hands the handler the thumbprint and SPIFFE ID the issuer made', async () => {
    const seen = await get(requiredUrl, false, clientTlsOptions({ identity: client, ca: ca.certificatePem }));
    assert.deepEqual(seen.clientCertificate, {
      thumbprint: client.thumbprint,
      spiffeId: 'spiffe://baton.test/mcp/travel',
      uris: ['spiffe://baton.test/mcp/travel'],
      subject: 'CN=travel,O=Baton',
    });
  });

  it('hands it again on a kept-alive connection and on a resumed TLS session', async () => {
    const tls = clientTlsOptions({ identity: client, ca: ca.certificatePem });
    const keepAlive = new Agent({ ...tls, keepAlive: true });
    const resuming = new Agent({ ...tls, keepAlive: false });
    try {
      for (let i = 0; i < 2; i += 1) {
        assert.equal(
          (await get(requiredUrl, keepAlive, tls)).clientCertificate?.thumbprint,
          client.thumbprint,
        );
      }
      resumed.length = 0;
      for (let i = 0; i < 3; i += 1) {
        const seen = await get(requiredUrl, resuming, tls);
        assert.equal(seen.clientCertificate?.thumbprint, client.thumbprint);
        assert.equal(seen.clientCertificate?.spiffeId, 'spiffe://baton.test/mcp/travel');
      }
      // The first connection makes a full handshake; the later ones resume its session (TLS 1.3 tickets).
      assert.ok(resumed.slice(1).includes(true), `a session was resumed: ${resumed.join(',')}`);
    } finally {
      keepAlive.destroy();
      resuming.destroy();
    }
  });

  it('a certificate that expired since the handshake is not handed on (a kept-alive connection outlives it)', async () => {
    const shortLived = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp/travel',
      usage: 'client',
      lifetimeSeconds: 2,
    });
    const tls = clientTlsOptions({ identity: shortLived, ca: ca.certificatePem });
    const keepAlive = new Agent({ ...tls, keepAlive: true, maxSockets: 1 });
    try {
      assert.equal(
        (await get(requiredUrl, keepAlive, tls)).clientCertificate?.thumbprint,
        shortLived.thumbprint,
      );
      await new Promise((resolve) => setTimeout(resolve, shortLived.notAfter.getTime() - Date.now() + 100));
      assert.equal((await get(requiredUrl, keepAlive, tls)).clientCertificate, null);
      assert.equal(resumedOrKept(keepAlive), 1, 'the same connection');
    } finally {
      keepAlive.destroy();
    }
  });

  it('a certificate the handshake did not authorize is never handed on', async () => {
    const forged = await issueWorkloadCertificate(otherCa, { spiffeId: 'spiffe://baton.test/mcp/travel' });
    const seen = await get(optionalUrl, false, clientTlsOptions({ identity: forged, ca: ca.certificatePem }));
    assert.equal(seen.clientCertificate, null);
    const anonymous = await get(optionalUrl, false, clientTlsOptions({ ca: ca.certificatePem }));
    assert.equal(anonymous.clientCertificate, null);
    const verified = await get(
      optionalUrl,
      false,
      clientTlsOptions({ identity: client, ca: ca.certificatePem }),
    );
    assert.equal(verified.clientCertificate?.thumbprint, client.thumbprint);
  });

  it('refuses a client certificate that changed on the connection after it was first read, or failed a later verification (renegotiation)', async () => {
    // Baton's servers refuse TLS renegotiation; should a certificate change anyway, the connection's
    // first one stays the only one. Stubbed on the real socket: Node's client cannot renegotiate with
    // another certificate.
    const other = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/billing-mcp' });
    const identity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const server = serveNodeRequests(
      createServer(serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: true })),
      echo,
    );
    let requests = 0;
    server.prependListener('request', (req) => {
      requests += 1;
      if (requests === 2)
        (req.socket as TLSSocket).getPeerX509Certificate = () => new X509Certificate(other.certificatePem);
      // What Node does when a renegotiation's certificate fails verification: `authorized` stays true.
      if (requests === 3)
        Object.assign(req.socket, { authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    });
    const url = `https://127.0.0.1:${await listen(server)}/`;
    const tls = clientTlsOptions({ identity: client, ca: ca.certificatePem });
    const keepAlive = new Agent({ ...tls, keepAlive: true, maxSockets: 1 });
    try {
      assert.equal((await get(url, keepAlive, tls)).clientCertificate?.thumbprint, client.thumbprint);
      assert.equal((await get(url, keepAlive, tls)).clientCertificate, null);
      assert.equal(resumedOrKept(keepAlive), 1, 'the same connection');
      assert.equal((await get(url, false, tls)).clientCertificate, null);
    } finally {
      keepAlive.destroy();
      server.closeAllConnections();
      server.close();
    }
  });

  it("refuses a SPIFFE ID issued by another trust domain's CA", async () => {
    // Two trust domains' CAs trusted: the partner's may issue only its own trust domain's IDs.
    const partner = await createCertificateAuthority({ trustDomain: 'partner.test' });
    const identity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const server = serveNodeRequests(
      createServer(
        serverTlsOptions({
          identity,
          ca: [ca.certificatePem, partner.certificatePem],
          requireClientCertificate: true,
        }),
      ),
      echo,
    );
    const url = `https://127.0.0.1:${await listen(server)}/`;
    try {
      // A partner CA that writes baton.test's IDs (Baton's own issuer refuses to, so its trust domain is relabelled).
      const impostor = await issueWorkloadCertificate(
        { ...partner, trustDomain: 'baton.test' },
        { spiffeId: 'spiffe://baton.test/mcp/travel', usage: 'client' },
      );
      const seen = await get(url, false, clientTlsOptions({ identity: impostor, ca: ca.certificatePem }));
      assert.deepEqual(seen.clientCertificate, {
        thumbprint: impostor.thumbprint,
        uris: ['spiffe://baton.test/mcp/travel'],
        subject: '',
      });
      const own = await issueWorkloadCertificate(partner, {
        spiffeId: 'spiffe://partner.test/agent',
        usage: 'client',
      });
      const partnerSeen = await get(url, false, clientTlsOptions({ identity: own, ca: ca.certificatePem }));
      assert.equal(partnerSeen.clientCertificate?.spiffeId, 'spiffe://partner.test/agent');
      const ours = await get(url, false, clientTlsOptions({ identity: client, ca: ca.certificatePem }));
      assert.equal(ours.clientCertificate?.spiffeId, 'spiffe://baton.test/mcp/travel');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses a SPIFFE ID whose chain ends at a forged root appended by the client', async () => {
    // Before Node 24, Node links the chain it reports by names and key identifiers, preferring what the
    // client sent: after a leaf the handshake verified against the real partner CA, a client appends a
    // "root" with the partner's subject, serial and key identifier but baton.test's SAN. Node 24 reports
    // the verified chain, so the chain is stubbed on the real, authorized socket.
    const partner = await createCertificateAuthority({ trustDomain: 'partner.test' });
    const impostor = await issueWorkloadCertificate(
      { ...partner, trustDomain: 'baton.test' },
      { spiffeId: 'spiffe://baton.test/victim', usage: 'client' },
    );
    const attacker = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const partnerPublicKey = await partner.certificate.publicKey.export(
      { name: 'ECDSA', namedCurve: 'P-256' },
      ['verify'],
    );
    const forge = (keys: CryptoKeyPair) =>
      x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: partner.certificate.serialNumber,
        name: partner.certificate.subject,
        notBefore: partner.certificate.notBefore,
        notAfter: partner.certificate.notAfter,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://baton.test' }]),
          partner.certificate.getExtension(x509.SubjectKeyIdentifierExtension) as x509.Extension,
        ],
      });
    const forgeries = {
      // The attacker's own key: it never signed the leaf.
      'another key': await forge(attacker),
      // The partner's public key, signed by the attacker: its self-signature does not verify.
      "the partner's public key": await forge({
        publicKey: partnerPublicKey,
        privateKey: attacker.privateKey,
      }),
      // The partner CA itself misusing its key: every signature verifies, but it is not the root the
      // server was configured with (on Node 22 the reported chain is the one the client sent).
      'a second root self-signed by the partner': await forge({
        publicKey: partnerPublicKey,
        privateKey: partner.privateKey,
      }),
    };
    /** A chain as `getPeerCertificate(true)` links it: each certificate's issuer, the root its own. */
    const linked = (...pems: string[]) => {
      const nodes = pems.map((pem) => {
        const certificate = new X509Certificate(pem);
        return { raw: certificate.raw, fingerprint256: certificate.fingerprint256 } as Record<
          string,
          unknown
        >;
      });
      nodes.forEach((node, index) => {
        node.issuerCertificate = nodes[index + 1] ?? node;
      });
      return nodes[0];
    };
    let chain: ReturnType<typeof linked> | undefined;
    const server = serveNodeRequests(
      createServer(
        serverTlsOptions({
          identity: await issueWorkloadCertificate(ca, {
            spiffeId: 'spiffe://baton.test/orders-api',
            ipAddresses: ['127.0.0.1'],
            usage: 'server',
          }),
          ca: [ca.certificatePem, partner.certificatePem],
          requireClientCertificate: true,
        }),
      ),
      echo,
    );
    server.prependListener('request', (req) => {
      const reported = chain;
      if (reported) Object.assign(req.socket, { getPeerCertificate: () => reported });
    });
    const url = `https://127.0.0.1:${await listen(server)}/`;
    const tls = clientTlsOptions({ identity: impostor, ca: ca.certificatePem });
    try {
      for (const [shape, forged] of Object.entries(forgeries)) {
        chain = linked(impostor.certificatePem, forged.toString('pem'));
        assert.deepEqual(
          (await get(url, false, tls)).clientCertificate,
          { thumbprint: impostor.thumbprint, uris: ['spiffe://baton.test/victim'], subject: '' },
          shape,
        );
      }
      // The partner's genuine chain, reported the same way, keeps its own trust domain's ID.
      const own = await issueWorkloadCertificate(partner, { spiffeId: 'spiffe://partner.test/agent' });
      chain = linked(own.certificatePem, partner.certificatePem);
      const seen = await get(url, false, clientTlsOptions({ identity: own, ca: ca.certificatePem }));
      assert.equal(seen.clientCertificate?.spiffeId, 'spiffe://partner.test/agent');
      // A chain that does not start at the certificate the handshake verified names no one.
      chain = linked(client.certificatePem, ca.certificatePem);
      const other = await get(url, false, clientTlsOptions({ identity: own, ca: ca.certificatePem }));
      assert.equal(other.clientCertificate?.spiffeId, undefined);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('a certificate named in a request header is no certificate', async () => {
    const seen = await get(optionalUrl, false, clientTlsOptions({ ca: ca.certificatePem }), {
      'x-client-cert': client.certificatePem.replaceAll('\n', ''),
      'x-forwarded-client-cert': `Hash=${client.thumbprint};URI=spiffe://baton.test/mcp/travel`,
    });
    assert.equal(seen.clientCertificate, null);
  });

  it('plain HTTP has no client certificate', async () => {
    const server = serveNodeRequests(createHttpServer(), echo);
    const port = await listen(server);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.deepEqual(await response.json(), { clientCertificate: null });
    } finally {
      server.close();
    }
  });
});
