/**
 * The TLS client certificate a request arrived with, as the transport adapter saw it after the TLS
 * handshake verified it against the server's trusted CAs (RFC 8705 §2). Adapters read it from the
 * connection (`clientCertificateOf` in `@baton/resource-server/node`); fetch runtimes that terminate TLS
 * themselves pass it in. Never read from a request header: a header is the caller's to forge.
 */
export interface ClientCertificate {
  /** RFC 8705 §3.1 `x5t#S256`: base64url of the SHA-256 of the certificate's DER encoding. */
  readonly thumbprint: string;
  /** The SPIFFE ID (`spiffe://<trust-domain>/<path>`) among its URI SANs, when it has exactly one. */
  readonly spiffeId?: string;
  /** Every URI subject alternative name, in certificate order. */
  readonly uris: readonly string[];
  /** The subject distinguished name as Node prints it (RFC 4514-like), for `tls_client_auth` matching. */
  readonly subject: string;
}
