import type { X509Certificate as NodeCertificate } from 'node:crypto';
// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import type { ClientCertificate } from '@baton/resource-server';
import { clientCertificateOf, peerCertificateOf } from '@baton/resource-server/node';
import { Name, SubjectAlternativeNameExtension, X509Certificate } from '@peculiar/x509';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * The certificate the client presented in this request's TLS handshake (RFC 8705 §2), read from the
 * connection itself — never from a header, which is the caller's to write. `undefined` over plain HTTP
 * or when the client sent none, and should the connection's certificate ever change, none
 * (`peerCertificateOf`). It may be one the server's trusted CAs did not verify (a
 * `self_signed_tls_client_auth` client's own certificate): see {@link certificateAuthorized}.
 */
export function presentedCertificate(ctx: KoaContextWithOIDC): NodeCertificate | undefined {
  return peerCertificateOf(ctx.req.socket);
}

/**
 * Whether the presented certificate is one the broker's trusted client CAs verified, as every resource
 * server decides it (`clientCertificateOf`): authorized by the handshake, still valid now (a
 * kept-alive connection or a resumed session outlives the handshake's check), the connection's first.
 */
export function certificateAuthorized(ctx: KoaContextWithOIDC): boolean {
  return clientCertificateOf(ctx.req.socket) !== undefined;
}

/**
 * The client certificate as Baton describes it everywhere (`ClientCertificate`): thumbprint, URI SANs,
 * the SPIFFE ID among them, the subject, read as every resource server reads it
 * (`clientCertificateOf`). Only for a certificate the handshake verified (a self-signed certificate's
 * names are whatever its holder wrote).
 */
export function verifiedClientCertificate(ctx: KoaContextWithOIDC): ClientCertificate | undefined {
  return clientCertificateOf(ctx.req.socket);
}

const SAN_TYPES = {
  tls_client_auth_san_dns: 'dns',
  tls_client_auth_san_uri: 'url',
  tls_client_auth_san_ip: 'ip',
  tls_client_auth_san_email: 'email',
} as const;

/**
 * RFC 8705 §2.1.2: does the presented certificate carry the name the client registered? `subject_dn`
 * is an RFC 4514 string (`CN=orders-mcp,O=Baton,C=DE`), compared attribute by attribute with the
 * certificate's subject; a SAN must be one of the certificate's names of that type, exactly (for a
 * workload, `tls_client_auth_san_uri` is its SPIFFE ID, matched only as `clientCertificateOf` gives it:
 * in the trust domain of the CA that verified it). oidc-provider calls this only after the handshake
 * verified the certificate (`certificateAuthorized`).
 */
export function certificateSubjectMatches(
  ctx: KoaContextWithOIDC,
  property: string,
  expected: string,
): boolean {
  const presented = presentedCertificate(ctx);
  if (!presented) return false;
  const certificate = new X509Certificate(presented.raw);
  if (property === 'tls_client_auth_subject_dn') {
    try {
      // RFC 4514 writes the RDNs last-first (`CN=orders-mcp,O=Baton`, as `openssl -nameopt RFC2253`
      // prints it); the certificate holds them first-first.
      const registered = new Name(expected).toJSON().reverse();
      return JSON.stringify(registered) === JSON.stringify(certificate.subjectName.toJSON());
    } catch {
      return false;
    }
  }
  // A SPIFFE ID names a workload only in its issuing CA's trust domain: never by the SAN alone.
  if (property === 'tls_client_auth_san_uri' && /^spiffe:/i.test(expected))
    return verifiedClientCertificate(ctx)?.spiffeId === expected;
  const type = SAN_TYPES[property as keyof typeof SAN_TYPES];
  return type !== undefined && subjectAltNames(certificate, type).includes(expected);
}

function subjectAltNames(certificate: X509Certificate, type: 'dns' | 'url' | 'ip' | 'email'): string[] {
  const extension = certificate.getExtension(SubjectAlternativeNameExtension);
  if (!extension) return [];
  return extension.names.items.filter((name) => name.type === type).map((name) => name.value);
}
