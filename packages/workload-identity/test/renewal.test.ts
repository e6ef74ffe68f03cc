import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { connect } from 'node:tls';
import {
  type CertificateAuthority,
  clientTlsOptions,
  createCertificateAuthority,
  issueWorkloadCertificate,
  renewingWorkloadCertificate,
  serverTlsOptions,
  type WorkloadCertificate,
  x5tS256,
} from '../src/index.ts';

describe('certificate renewal', () => {
  it('issues a fresh certificate halfway through the lifetime, and a server swaps it in for new connections', async () => {
    const ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    const client = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/mcp',
      usage: 'client',
    });
    const renewed: WorkloadCertificate[] = [];
    const options = (identity: WorkloadCertificate) =>
      serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: true });
    let server: ReturnType<typeof createServer> | undefined;
    const renewing = await renewingWorkloadCertificate(
      ca,
      { spiffeId: 'spiffe://baton.test/api', ipAddresses: ['127.0.0.1'], lifetimeSeconds: 2 },
      {
        onRenewed(identity) {
          renewed.push(identity);
          server?.setSecureContext(options(identity));
        },
      },
    );
    const first = renewing.current();
    server = createServer(options(first), (_request, response) => response.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const serverThumbprint = async () => {
      const socket = connect({
        ...clientTlsOptions({ identity: client, ca: ca.certificatePem }),
        host: '127.0.0.1',
        port,
      });
      await once(socket, 'secureConnect');
      const thumbprint = x5tS256(socket.getPeerX509Certificate()!.raw);
      socket.destroy();
      return thumbprint;
    };
    try {
      assert.equal(await serverThumbprint(), first.thumbprint);
      const deadline = Date.now() + 5_000;
      while (renewed.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(renewed.length, 1, 'renewed once, after about a second');
      const fresh = renewing.current();
      assert.equal(fresh, renewed[0]);
      assert.notEqual(fresh.thumbprint, first.thumbprint);
      assert.equal(fresh.spiffeId, first.spiffeId);
      assert.ok(fresh.notAfter > first.notAfter);
      assert.equal(await serverThumbprint(), fresh.thumbprint);
    } finally {
      renewing.stop();
      server.close();
    }
  });

  it('retries a renewal that failed, and renews once the issuer works again', async () => {
    const ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    // The same CA, whose signing fails while `failing` is set (as a CA briefly unavailable would).
    let failing = false;
    let failures = 0;
    const flaky: CertificateAuthority = {
      trustDomain: ca.trustDomain,
      spiffeId: ca.spiffeId,
      certificatePem: ca.certificatePem,
      privateKey: ca.privateKey,
      get certificate() {
        if (failing) {
          failures++;
          throw new Error('the CA is unavailable');
        }
        return ca.certificate;
      },
    };
    const errors: Error[] = [];
    const renewed: WorkloadCertificate[] = [];
    const renewing = await renewingWorkloadCertificate(
      flaky,
      { spiffeId: 'spiffe://baton.test/api', lifetimeSeconds: 3 },
      {
        onRenewed: (identity) => renewed.push(identity),
        onerror(error) {
          errors.push(error);
          failing = false;
        },
      },
    );
    failing = true;
    try {
      const deadline = Date.now() + 6_000;
      while (renewed.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(failures, 1, 'the first renewal failed');
      assert.deepEqual(
        errors.map((error) => error.message),
        ['the CA is unavailable'],
      );
      assert.equal(renewed.length, 1, 'renewed by the retry');
      assert.equal(renewing.current(), renewed[0]);
    } finally {
      renewing.stop();
    }
  });

  it('refuses a renewal share outside (0, 1) and a missing onRenewed', async () => {
    const ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
    const options = { spiffeId: 'spiffe://baton.test/api' };
    await assert.rejects(
      renewingWorkloadCertificate(ca, options, { onRenewed: () => {}, renewAfter: 1 }),
      TypeError,
    );
    await assert.rejects(renewingWorkloadCertificate(ca, options, {} as never), TypeError);
  });
});
