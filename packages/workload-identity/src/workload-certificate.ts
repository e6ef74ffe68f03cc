import { isIP } from 'node:net';
import {
  type CertificateAuthority,
  CLOCK_SKEW_SECONDS,
  randomSerialNumber,
  SIGNING_ALGORITHM,
} from './certificate-authority.ts';
import { parseSpiffeId } from './spiffe-id.ts';
import { x5tS256 } from './thumbprint.ts';
import { x509 } from './x509.ts';

/** What a certificate may authenticate: the TLS server of a connection, its client, or either. */
export type CertificateUsage = 'server' | 'client' | 'both';

export interface WorkloadCertificateOptions {
  /** The workload's SPIFFE ID, in the CA's trust domain and with a path: `spiffe://<trust-domain>/<path>`. */
  spiffeId: string;
  /** DNS names it serves under (server certificates): what a client checks the host name against. */
  dnsNames?: readonly string[];
  /** IP addresses it serves under (server certificates), e.g. `127.0.0.1`. */
  ipAddresses?: readonly string[];
  /** How long it is valid from now (or from `notBefore`), at most until the CA expires. Default: one hour. */
  lifetimeSeconds?: number;
  /**
   * The extended key usages: `serverAuth`, `clientAuth` or both. Default `both`, as X509-SVID §4.4 asks
   * of a workload certificate that carries the extension.
   */
  usage?: CertificateUsage;
  /** Its subject, an RFC 4514 distinguished name. Default: none (the SAN extension is then critical). */
  subject?: string;
  /** Start of validity. Default: now, less a minute of clock skew. Tests set it to make expired certificates. */
  notBefore?: Date;
}

/** A workload's certificate and key, in the PEM forms Node's TLS options take. */
export interface WorkloadCertificate {
  readonly spiffeId: string;
  /** The leaf certificate alone. */
  readonly certificatePem: string;
  /** Its PKCS #8 private key. Keep it as secret as any key. */
  readonly privateKeyPem: string;
  /**
   * What the workload presents in TLS (`cert`): the leaf, then any intermediate up to, not including,
   * the trust anchor. Issued by a root CA, this is the leaf alone.
   */
  readonly chainPem: string;
  /** RFC 8705 `x5t#S256` of the leaf: what a token bound to this certificate carries in `cnf`. */
  readonly thumbprint: string;
  readonly notAfter: Date;
}

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Issues an X.509 SVID for a workload (X509-SVID): an ECDSA P-256 key made here, and a certificate with
 * exactly one URI SAN, its SPIFFE ID, beside any DNS and IP SANs; basic constraints `cA: false`, key
 * usage `digitalSignature` (both critical), extended key usage per `usage`, and the CA's key identifier.
 * A SPIFFE ID that does not parse throws `SpiffeIdError`; one outside the CA's trust domain, without a
 * path, or a lifetime past the CA's own, a `TypeError`.
 *
 * @example
 * const server = await issueWorkloadCertificate(ca, {
 *   spiffeId: 'spiffe://baton.test/orders-api', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server',
 * });
 * https.createServer(serverTlsOptions({ identity: server, ca: ca.certificatePem, requireClientCertificate: true }));
 */
export async function issueWorkloadCertificate(
  ca: CertificateAuthority,
  options: WorkloadCertificateOptions,
): Promise<WorkloadCertificate> {
  const id = parseSpiffeId(options.spiffeId);
  if (id.trustDomain !== ca.trustDomain)
    throw new TypeError(`the CA issues only in its trust domain (${ca.trustDomain})`);
  if (id.path === '') throw new TypeError('a workload SPIFFE ID has a path (X509-SVID §3.1)');
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  for (const name of dnsNames)
    if (typeof name !== 'string' || name.length > 253 || !DNS_NAME.test(name))
      throw new TypeError('dnsNames are host names (a leading "*." allowed)');
  for (const address of ipAddresses)
    if (typeof address !== 'string' || isIP(address) === 0)
      throw new TypeError('ipAddresses are IPv4 or IPv6 addresses');
  const lifetimeSeconds = options.lifetimeSeconds ?? 3_600;
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0)
    throw new TypeError('lifetimeSeconds must be a positive integer');
  const usage = options.usage ?? 'both';
  if (usage !== 'server' && usage !== 'client' && usage !== 'both')
    throw new TypeError('usage is "server", "client" or "both"');
  // The lifetime counts from now (or from an explicit `notBefore`); the default backdating for clock
  // skew does not shorten it.
  const start = options.notBefore?.getTime() ?? Date.now();
  const notBefore = options.notBefore ?? new Date(start - CLOCK_SKEW_SECONDS * 1000);
  const notAfter = new Date(start + lifetimeSeconds * 1000);
  if (notAfter > ca.certificate.notAfter) throw new TypeError('the certificate would outlive its CA');

  const keys = (await crypto.subtle.generateKey(SIGNING_ALGORITHM, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const subject = options.subject ?? '';
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject,
    issuer: ca.certificate.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(extendedKeyUsages(usage)),
      // RFC 5280 §4.1.2.6: with an empty subject, the SAN extension is what names it, so critical.
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: id.id },
          ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
          ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
        ],
        subject === '',
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  const certificatePem = certificate.toString('pem');
  const privateKey = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    spiffeId: id.id,
    certificatePem,
    privateKeyPem: x509.PemConverter.encode(privateKey, 'PRIVATE KEY'),
    chainPem: certificatePem,
    thumbprint: x5tS256(certificate.rawData),
    // As encoded: X.509 times have whole seconds.
    notAfter: certificate.notAfter,
  };
}

function extendedKeyUsages(usage: CertificateUsage): x509.ExtendedKeyUsage[] {
  const server = x509.ExtendedKeyUsage.serverAuth;
  const client = x509.ExtendedKeyUsage.clientAuth;
  return usage === 'server' ? [server] : usage === 'client' ? [client] : [server, client];
}
