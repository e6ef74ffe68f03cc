import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import {
  type CertificateAuthority,
  certificateIdentity,
  createCertificateAuthority,
  issueWorkloadCertificate,
  mutualTlsDispatcher,
  pinnedMutualTlsDispatcher,
  type WorkloadCertificate,
  x5tS256,
} from '../src/index.ts';
import { httpsGet, type SeenByServer, startHttpsServer } from './fixtures.ts';

describe('mutual TLS with the internal CA (real TLS on 127.0.0.1)', () => {
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let serverIdentity: WorkloadCertificate;
  let client: WorkloadCertificate;
  let server: Awaited<ReturnType<typeof startHttpsServer>>;

  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    otherCa = await createCertificateAuthority({ trustDomain: 'baton.test' });
    serverIdentity = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    client = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp/travel',
      usage: 'client',
    });
    server = await startHttpsServer(serverIdentity, ca.certificatePem, true);
  });
  after(() => server.close());

  it('a client with a certificate from the CA is authorized, and the server sees what was issued', async () => {
    const seen = await httpsGet(`${server.origin}/`, { identity: client, ca: ca.certificatePem });
    assert.equal(seen.authorized, true);
    const identity = certificateIdentity(Buffer.from(seen.raw!, 'base64'));
    assert.equal(identity.thumbprint, client.thumbprint);
    assert.equal(identity.spiffeId, 'spiffe://baton.test/mcp/travel');
    assert.deepEqual(identity.uris, ['spiffe://baton.test/mcp/travel']);
    assert.equal(identity.subject, '');
  });

  it("global fetch with the mutual TLS dispatcher presents the client's certificate", async () => {
    const dispatcher = mutualTlsDispatcher({ identity: client, ca: ca.certificatePem });
    try {
      const response = await fetch(`${server.origin}/`, { dispatcher } as RequestInit);
      const seen = (await response.json()) as SeenByServer;
      assert.equal(seen.authorized, true);
      assert.equal(x5tS256(Buffer.from(seen.raw!, 'base64')), client.thumbprint);
    } finally {
      await dispatcher.close();
    }
  });

  it('refuses a client without a certificate in the handshake', async () => {
    const served = server.served;
    const before = server.clientErrors.length;
    await assert.rejects(
      httpsGet(`${server.origin}/`, { ca: ca.certificatePem }),
      (error: NodeJS.ErrnoException) => {
        // TLS 1.3: the client finishes its side first, then reads the server's `certificate_required` alert.
        assert.equal(error.code, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
        return true;
      },
    );
    await waitFor(() => server.clientErrors.length > before);
    assert.equal(server.clientErrors.at(-1)?.code, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
    assert.equal(server.served, served);
  });

  it('refuses a client certificate from another CA in the handshake', async () => {
    const forged = await issueWorkloadCertificate(otherCa, { spiffeId: 'spiffe://baton.test/mcp/travel' });
    await assertRefusedInHandshake(forged, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses an expired client certificate in the handshake', async () => {
    const expired = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp/travel',
      notBefore: new Date(Date.now() - 2 * 3_600_000),
      lifetimeSeconds: 3_600,
    });
    await assertRefusedInHandshake(expired, 'CERT_HAS_EXPIRED');
  });

  /**
   * A certificate the handshake does not verify: the server that requires one ends the connection
   * before any request is read (Node destroys the socket without an alert, so the client sees a reset);
   * a server that only asks for one serves the request unauthenticated, and says why (`verifyReason`).
   */
  async function assertRefusedInHandshake(
    identity: WorkloadCertificate,
    verifyReason: string,
  ): Promise<void> {
    const served = server.served;
    const failed = server.clientErrors.length;
    await assert.rejects(httpsGet(`${server.origin}/`, { identity, ca: ca.certificatePem }), {
      code: 'ECONNRESET',
    });
    await waitFor(() => server.clientErrors.length > failed);
    assert.equal(server.served, served, 'no request was read on the refused connection');
    const optional = await startHttpsServer(serverIdentity, ca.certificatePem, false);
    try {
      const seen = await httpsGet(`${optional.origin}/`, { identity, ca: ca.certificatePem });
      assert.deepEqual([seen.authorized, seen.authorizationError], [false, verifyReason]);
    } finally {
      await optional.close();
    }
  }

  it('refuses a client certificate swapped in by TLS renegotiation', async () => {
    // A TLS 1.2 client verified once could renegotiate with another certificate, and Node would keep
    // `authorized` from the first handshake; the server refuses renegotiation itself. (Node's client
    // cannot change its certificate, but the renegotiation it starts is the attack's first step.)
    const optional = await startHttpsServer(serverIdentity, ca.certificatePem, false);
    const { port } = optional.server.address() as { port: number };
    const socket = connect({
      cert: client.chainPem,
      key: client.privateKeyPem,
      ca: ca.certificatePem,
      host: '127.0.0.1',
      port,
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
      await optional.close();
    }
  });

  it('refuses a server whose certificate names another host', async () => {
    const elsewhere = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/billing-api',
      dnsNames: ['billing.internal'],
      usage: 'server',
    });
    const impostor = await startHttpsServer(elsewhere, ca.certificatePem, true);
    try {
      await assert.rejects(
        httpsGet(`${impostor.origin}/`, { identity: client, ca: ca.certificatePem, servername: 'localhost' }),
        { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
      );
      const dispatcher = mutualTlsDispatcher({ identity: client, ca: ca.certificatePem });
      try {
        await assert.rejects(fetch(`${impostor.origin}/`, { dispatcher } as RequestInit), (error: Error) => {
          assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
          return true;
        });
      } finally {
        await dispatcher.close();
      }
    } finally {
      await impostor.close();
    }
  });

  it("a dispatcher pinned to spiffe://…/broker refuses another workload's certificate", async () => {
    // Same CA, same host names: only the SPIFFE ID tells the broker from another workload on its port.
    const pinned = mutualTlsDispatcher({
      identity: client,
      ca: ca.certificatePem,
      serverSpiffeId: 'spiffe://baton.test/broker',
    });
    const broker = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/broker',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const real = await startHttpsServer(broker, ca.certificatePem, true);
    try {
      await assert.rejects(
        fetch(`${server.origin}/`, { dispatcher: pinned } as RequestInit),
        (error: Error) => {
          assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_TLS_SERVER_SPIFFE_ID_MISMATCH');
          return true;
        },
      );
      await assert.rejects(
        httpsGet(`${server.origin}/`, {
          identity: client,
          ca: ca.certificatePem,
          serverSpiffeId: 'spiffe://baton.test/broker',
        }),
        { code: 'ERR_TLS_SERVER_SPIFFE_ID_MISMATCH' },
      );
      const seen = (await (
        await fetch(`${real.origin}/`, { dispatcher: pinned } as RequestInit)
      ).json()) as SeenByServer;
      assert.equal(seen.authorized, true);
      assert.throws(
        () => mutualTlsDispatcher({ ca: ca.certificatePem, serverSpiffeId: 'spiffe://baton.test' }),
        TypeError,
      );
    } finally {
      await pinned.close();
      await real.close();
    }
  });

  it('one pinned dispatcher reaches each origin only as the SPIFFE ID named for it, and refuses origins named for none', async () => {
    const broker = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/broker',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const real = await startHttpsServer(broker, ca.certificatePem, true);
    const servers = new Map([
      [server.origin, 'spiffe://baton.test/orders-api'],
      [real.origin, 'spiffe://baton.test/broker'],
    ]);
    const dispatcher = pinnedMutualTlsDispatcher({ identity: client, ca: ca.certificatePem, servers });
    const get = (url: string) => fetch(url, { dispatcher } as RequestInit);
    try {
      assert.equal((await get(`${server.origin}/`)).status, 200);
      assert.equal((await get(`${real.origin}/`)).status, 200);
      // The orders API's port named as the broker's: its certificate is refused.
      servers.set(server.origin, 'spiffe://baton.test/broker');
      await assert.rejects(get(`${server.origin}/`), (error: Error) => {
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_TLS_SERVER_SPIFFE_ID_MISMATCH');
        return true;
      });
      servers.delete(server.origin);
      await assert.rejects(get(`${server.origin}/`), (error: Error) => {
        assert.equal((error.cause as NodeJS.ErrnoException).code, 'ERR_TLS_SERVER_NOT_PINNED');
        return true;
      });
    } finally {
      await dispatcher.close();
      await real.close();
    }
  });

  it('refuses a server certificate from another CA', async () => {
    const dispatcher = mutualTlsDispatcher({ identity: client, ca: otherCa.certificatePem });
    try {
      await assert.rejects(fetch(`${server.origin}/`, { dispatcher } as RequestInit), (error: Error) => {
        // Both CAs share a subject name, so OpenSSL names the failure after the same-named trusted root.
        assert.match(
          String((error.cause as NodeJS.ErrnoException).code),
          /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
        );
        return true;
      });
    } finally {
      await dispatcher.close();
    }
  });

  it('a server that only asks for a certificate serves a client without one, unauthenticated', async () => {
    const optional = await startHttpsServer(serverIdentity, ca.certificatePem, false);
    try {
      const anonymous = await httpsGet(`${optional.origin}/`, { ca: ca.certificatePem });
      assert.deepEqual([anonymous.authorized, anonymous.raw], [false, null]);
      const forged = await issueWorkloadCertificate(otherCa, { spiffeId: 'spiffe://baton.test/mcp/travel' });
      const unverified = await httpsGet(`${optional.origin}/`, { identity: forged, ca: ca.certificatePem });
      assert.equal(unverified.authorized, false);
    } finally {
      await optional.close();
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'the server saw the failed handshake');
}
