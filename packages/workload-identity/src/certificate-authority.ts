import { parseSpiffeId } from './spiffe-id.ts';
import { x509 } from './x509.ts';

/** ECDSA P-256 with SHA-256 throughout: small certificates and the cheapest TLS handshake signatures. */
export const SIGNING_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Backdating of `notBefore`, so a peer whose clock is a little behind accepts a fresh certificate. */
export const CLOCK_SKEW_SECONDS = 60;

export interface CertificateAuthorityOptions {
  /** The trust domain this CA is authoritative for (SPIFFE-ID §2.1), e.g. `baton.test`. */
  trustDomain: string;
  /** How long the CA certificate is valid. Default: one day (a CA made at start, for one run). */
  lifetimeSeconds?: number;
  /** Its subject, an RFC 4514 distinguished name. Default `O=Baton, CN=<trustDomain> internal CA`. */
  subject?: string;
}

/**
 * An internal certificate authority: a self-signed root, held in memory with a private key that cannot
 * be exported. Its certificate (`certificatePem`) is the trust anchor every peer is given (`ca`).
 */
export interface CertificateAuthority {
  readonly trustDomain: string;
  /** The trust domain's own SPIFFE ID, the CA certificate's URI SAN (X509-SVID §3.2). */
  readonly spiffeId: string;
  readonly certificate: x509.X509Certificate;
  readonly certificatePem: string;
  /** Signs what the CA issues. Not extractable. */
  readonly privateKey: CryptoKey;
}

/**
 * Creates an internal CA for `trustDomain`: a self-signed ECDSA P-256 root (X509-SVID §3.2 and §4: CA
 * basic constraint with path length 0, key usage `keyCertSign` and `cRLSign`, critical, and the trust
 * domain's SPIFFE ID as its URI SAN). For the demo and tests: made at start, never written to disk.
 *
 * @example
 * const ca = await createCertificateAuthority({ trustDomain: 'baton.test' });
 * const orders = await issueWorkloadCertificate(ca, { spiffeId: 'spiffe://baton.test/orders-api', dnsNames: ['localhost'] });
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const { trustDomain } = options;
  const spiffeId = `spiffe://${trustDomain}`;
  if (typeof trustDomain !== 'string' || trustDomain.includes('/'))
    throw new TypeError('trustDomain is a SPIFFE trust domain name, e.g. "baton.test"');
  parseSpiffeId(spiffeId);
  const lifetimeSeconds = options.lifetimeSeconds ?? 86_400;
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0)
    throw new TypeError('lifetimeSeconds must be a positive integer');
  const keys = (await crypto.subtle.generateKey(SIGNING_ALGORITHM, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: options.subject ?? `O=Baton, CN=${trustDomain} internal CA`,
    notBefore: new Date(now - CLOCK_SKEW_SECONDS * 1000),
    notAfter: new Date(now + lifetimeSeconds * 1000),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    trustDomain,
    spiffeId,
    certificate,
    certificatePem: certificate.toString('pem'),
    privateKey: keys.privateKey,
  };
}

/** RFC 5280 §4.1.2.2: positive, unique per CA, at most 20 octets; 16 random bytes, the top bit cleared. */
export function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}
