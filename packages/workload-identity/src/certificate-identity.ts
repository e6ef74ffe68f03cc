import { isWorkloadSpiffeId, parseSpiffeId } from './spiffe-id.ts';
import { x5tS256 } from './thumbprint.ts';
import { x509 } from './x509.ts';

/** Who a certificate names: the `ClientCertificate` of `@baton/resource-server`, read from DER. */
export interface CertificateIdentity {
  /** RFC 8705 §3.1 `x5t#S256`. */
  readonly thumbprint: string;
  /**
   * Its SPIFFE ID, when it is an X.509 SVID: a leaf (not a CA) whose only URI SAN is a workload SPIFFE
   * ID (X509-SVID §2 and §5.2: a certificate with more than one URI SAN is no SVID). Else absent.
   */
  readonly spiffeId?: string;
  /** Every URI SAN, in certificate order, exactly as encoded (none unescaped or normalised). */
  readonly uris: readonly string[];
  /**
   * The subject as an RFC 4514 string (most specific RDN first, e.g. `CN=orders,O=Baton`), `''` when
   * empty: what RFC 8705 §2.1.2 `tls_client_auth_subject_dn` is compared with.
   */
  readonly subject: string;
}

/**
 * Reads who a DER certificate names, with `@peculiar/x509` (the SAN extension parsed, not Node's
 * printed `subjectaltname`, whose escaping of `,` and `"` a string split would get wrong). It decides
 * nothing about trust: only ever call it on a certificate the TLS handshake verified.
 *
 * @example
 * const { thumbprint, spiffeId } = certificateIdentity(socket.getPeerCertificate().raw);
 */
export function certificateIdentity(der: Uint8Array | ArrayBuffer): CertificateIdentity {
  const certificate = new x509.X509Certificate(der instanceof ArrayBuffer ? der : new Uint8Array(der));
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = (san?.names.items ?? []).filter((name) => name.type === 'url').map((name) => name.value);
  const ca = certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true;
  const only = uris.length === 1 ? uris[0]! : undefined;
  const spiffeId = !ca && only !== undefined && isWorkloadSpiffeId(only) ? only : undefined;
  return {
    thumbprint: x5tS256(certificate.rawData),
    ...(spiffeId ? { spiffeId } : {}),
    uris,
    subject: rfc4514(certificate.subjectName),
  };
}

/**
 * The trust domain a CA certificate speaks for: its only URI SAN, the trust domain's own SPIFFE ID
 * (`spiffe://baton.test`, X509-SVID §3.2, as `createCertificateAuthority` writes it). `undefined` for a
 * certificate that is no CA or names no trust domain. A SPIFFE ID counts only in the trust domain of
 * the anchor that verified it: a partner's CA in the same bundle could write any trust domain's IDs.
 *
 * @example
 * authorityTrustDomain(ca.certificate.rawData); // 'baton.test'
 */
export function authorityTrustDomain(der: Uint8Array | ArrayBuffer): string | undefined {
  const certificate = new x509.X509Certificate(der instanceof ArrayBuffer ? der : new Uint8Array(der));
  if (certificate.getExtension(x509.BasicConstraintsExtension)?.ca !== true) return undefined;
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = (san?.names.items ?? []).filter((name) => name.type === 'url');
  if (uris.length !== 1) return undefined;
  try {
    const id = parseSpiffeId(uris[0]!.value);
    return id.path === '' ? id.trustDomain : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 4514 §2: the RDNs last to first, joined by `,`; multi-valued RDNs by `+`; values escaped (§2.4). */
function rfc4514(name: x509.Name): string {
  return name
    .toJSON()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((value) => `${type}=${escapeValue(value)}`))
        .join('+'),
    )
    .join(',');
}

function escapeValue(value: string): string {
  // A `#hex` value is how the library prints an attribute it cannot decode as a string: kept as is.
  if (/^#[0-9a-f]+$/i.test(value)) return value;
  return value
    .replace(/[\\"+,;<>]/g, (character) => `\\${character}`)
    .replace(/\0/g, '\\00')
    .replace(/^[ #]/, (character) => `\\${character}`)
    .replace(/ $/, '\\ ');
}
