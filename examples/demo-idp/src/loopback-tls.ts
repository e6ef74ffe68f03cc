/** A certificate and its private key, PEM-encoded, as `node:https` takes them. */
export interface LoopbackTls {
  key: string;
  cert: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * A throwaway self-signed certificate for `127.0.0.1` and `localhost`, valid for a day: what the demo
 * agent serves its Client ID Metadata Document with, since the draft (and oidc-provider, and the SDK's
 * `validateClientMetadataUrl`) accept only an https `client_id`. The demo IdP is told to trust exactly
 * this certificate for document fetches (`clientIdMetadataDocuments.ca`); nothing else trusts it.
 *
 * @example
 * const tls = await loopbackTls();
 * const host = await serveClientMetadataDocument({ tls, metadata });
 */
export async function loopbackTls(): Promise<LoopbackTls> {
  // Loaded here, not with the package: `@peculiar/x509` resolves its parts through tsyringe, which needs
  // the Reflect metadata polyfill (a global) installed first; only a caller that makes a certificate pays.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
      name: 'CN=Baton demo agent (loopback)',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 24 * 60 * 60 * 1000),
      signingAlgorithm: ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    cert: certificate.toString('pem'),
  };
}
