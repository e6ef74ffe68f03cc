import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { SIGNING_ALGORITHM } from '../src/certificate-authority.ts';
import {
  authorityTrustDomain,
  type CertificateAuthority,
  certificateIdentity,
  createCertificateAuthority,
  issueWorkloadCertificate,
  SpiffeIdError,
  x5tS256,
} from '../src/index.ts';
import { x509 } from '../src/x509.ts';

/** A leaf the CA signs with exactly the SANs and subject given: shapes `issueWorkloadCertificate` never makes. */
async function leafWith(
  ca: CertificateAuthority,
  names: Array<{ type: 'url' | 'dns'; value: string }>,
  subject = '',
): Promise<Uint8Array> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension(names, subject === ''),
    ],
  });
  return new Uint8Array(certificate.rawData);
}

describe('workload certificates and what they name', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
  });

  it('issues an X.509 SVID: one URI SAN, leaf constraints, chained to the CA', async () => {
    const issued = await issueWorkloadCertificate(ca, {
      spiffeId: 'spiffe://baton.test/orders-api',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
      lifetimeSeconds: 600,
      usage: 'server',
    });
    const leaf = new X509Certificate(issued.certificatePem);
    const root = new X509Certificate(ca.certificatePem);
    assert.equal(leaf.checkIssued(root), true);
    assert.equal(leaf.verify(root.publicKey), true);
    assert.equal(leaf.ca, false);
    assert.equal(root.ca, true);
    assert.equal(
      leaf.subjectAltName,
      'URI:spiffe://baton.test/orders-api, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), true);
    assert.equal(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), false);
    assert.equal(issued.chainPem, issued.certificatePem);
    assert.equal(issued.thumbprint, x5tS256(leaf.raw));
    assert.ok(Math.abs(new Date(leaf.validTo).getTime() - issued.notAfter.getTime()) < 1000);
    assert.match(issued.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(root.subjectAltName, 'URI:spiffe://baton.test');
  });

  it('x5t#S256 is the base64url SHA-256 of the DER (RFC 8705 §3.1)', () => {
    const der = new X509Certificate(ca.certificatePem).raw;
    const hex = new X509Certificate(ca.certificatePem).fingerprint256.replaceAll(':', '');
    assert.equal(x5tS256(der), Buffer.from(hex, 'hex').toString('base64url'));
    assert.doesNotMatch(x5tS256(der), /[+/=]/);
  });

  it('refuses to issue outside its trust domain, without a path, or past its own expiry', async () => {
    await assert.rejects(issueWorkloadCertificate(ca, { spiffeId: 'spiffe://other.test/orders' }), TypeError);
    await assert.rejects(issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test' }), TypeError);
    await assert.rejects(
      issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders', lifetimeSeconds: 2 * 86_400 }),
      TypeError,
    );
    await assert.rejects(
      issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders?x' }),
      SpiffeIdError,
    );
    await assert.rejects(
      issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders', dnsNames: ['bad name'] }),
      TypeError,
    );
    await assert.rejects(
      issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders', ipAddresses: ['localhost'] }),
      TypeError,
    );
  });

  it('reads the SPIFFE ID of an SVID', async () => {
    const issued = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders-api' });
    const identity = certificateIdentity(new X509Certificate(issued.certificatePem).raw);
    assert.deepEqual(identity, {
      thumbprint: issued.thumbprint,
      spiffeId: 'spiffe://baton.test/orders-api',
      uris: ['spiffe://baton.test/orders-api'],
      subject: '',
    });
  });

  it('a certificate with two SPIFFE IDs has no SPIFFE ID (X509-SVID §2)', async () => {
    const identity = certificateIdentity(
      await leafWith(ca, [
        { type: 'url', value: 'spiffe://baton.test/orders-api' },
        { type: 'url', value: 'spiffe://baton.test/admin' },
      ]),
    );
    assert.equal(identity.spiffeId, undefined);
    assert.deepEqual(identity.uris, ['spiffe://baton.test/orders-api', 'spiffe://baton.test/admin']);
  });

  it('a SPIFFE ID beside another URI SAN is no SPIFFE ID either', async () => {
    const identity = certificateIdentity(
      await leafWith(ca, [
        { type: 'url', value: 'https://orders.example/,spiffe://baton.test/admin' },
        { type: 'url', value: 'spiffe://baton.test/orders-api' },
      ]),
    );
    assert.equal(identity.spiffeId, undefined);
    // The SAN extension is parsed, not Node's printed list: a comma inside a URI splits nothing.
    assert.deepEqual(identity.uris, [
      'https://orders.example/,spiffe://baton.test/admin',
      'spiffe://baton.test/orders-api',
    ]);
  });

  it('a malformed or root SPIFFE URI, or a CA certificate, gives no SPIFFE ID', async () => {
    for (const value of [
      'spiffe://baton.test/orders/../admin',
      'spiffe://baton.test',
      'spiffe://Baton.test/orders',
    ]) {
      assert.equal(
        certificateIdentity(await leafWith(ca, [{ type: 'url', value }])).spiffeId,
        undefined,
        value,
      );
    }
    assert.equal(certificateIdentity(new X509Certificate(ca.certificatePem).raw).spiffeId, undefined);
  });

  it("reads a CA's trust domain from its SPIFFE URI SAN; a leaf or a CA without one names none", async () => {
    assert.equal(authorityTrustDomain(ca.certificate.rawData), 'baton.test');
    const leaf = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders-api' });
    assert.equal(authorityTrustDomain(new X509Certificate(leaf.certificatePem).raw), undefined);
    const keys = (await crypto.subtle.generateKey(SIGNING_ALGORITHM, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const bare = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=bare CA',
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    });
    assert.equal(authorityTrustDomain(bare.rawData), undefined);
  });

  it('names the subject in RFC 4514 order and escaping', async () => {
    const identity = certificateIdentity(
      await leafWith(ca, [{ type: 'dns', value: 'localhost' }], 'C=DE, O=Baton\\, Inc., CN=orders-api'),
    );
    assert.equal(identity.subject, 'CN=orders-api,O=Baton\\, Inc.,C=DE');
    assert.equal(
      certificateIdentity(new X509Certificate(ca.certificatePem).raw).subject,
      'CN=baton.test internal CA,O=Baton',
    );
  });
});
