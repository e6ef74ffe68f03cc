import { createHash } from 'node:crypto';

/**
 * RFC 8705 §3.1 `x5t#S256`: the base64url-encoded SHA-256 of a certificate's DER encoding, as a
 * certificate-bound token's `cnf` carries it and as `ClientCertificate.thumbprint` holds it.
 *
 * @example
 * x5tS256(socket.getPeerCertificate().raw); // 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2'
 */
export function x5tS256(der: Uint8Array | ArrayBuffer): string {
  const bytes = der instanceof ArrayBuffer ? new Uint8Array(der) : der;
  return createHash('sha256').update(bytes).digest('base64url');
}
