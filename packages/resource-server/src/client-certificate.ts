/**
 * The TLS client certificate a request arrived with, as the transport adapter saw it after the TLS
 * handshake verified it against the server's trusted CAs (RFC 8705 §2). Adapters read it from the
 * connection (`clientCertificateOf` in `@baton/resource-server/node`); fetch runtimes that terminate TLS
 * themselves pass it in. Never read from a request header: a header is the caller's to forge.
 */
export interface ClientCertificate {
  /** RFC 8705 §3.1 `x5t#S256`: base64url of the SHA-256 of the certificate's DER encoding. */
  readonly thumbprint: string;
  /**
   * The SPIFFE ID (`spiffe://<trust-domain>/<path>`) when the certificate is an X.509 SVID: a leaf whose
   * only URI SAN is a well-formed workload SPIFFE ID (X509-SVID §2, §5.2). Absent otherwise, also when
   * it has two SPIFFE IDs, or one beside another URI.
   */
  readonly spiffeId?: string;
  /** Every URI subject alternative name, in certificate order. */
  readonly uris: readonly string[];
  /**
   * The subject distinguished name as an RFC 4514 string (most specific RDN first: `CN=a,O=b`; `''` when
   * empty), for RFC 8705 `tls_client_auth_subject_dn` matching.
   */
  readonly subject: string;
}
