import { TLSSocket } from 'node:tls';
import { certificateIdentity } from '@baton/workload-identity';
import type { ClientCertificate } from '../client-certificate.ts';

/** The last certificate read per connection, by its fingerprint: a keep-alive connection parses it once. */
const read = new WeakMap<
  TLSSocket,
  { fingerprint: string; notAfter: number; certificate: ClientCertificate }
>();

/**
 * The client certificate of a connection (RFC 8705 §2), or `undefined`: only for a TLS socket whose
 * handshake verified the certificate against the server's CAs (`socket.authorized`). A certificate the
 * handshake did not authorize (a server that asks for one without requiring it, `rejectUnauthorized:
 * false`) is never returned, nor one that has expired since the handshake (a kept-alive connection, a
 * resumed session), and a plain HTTP socket has none. The URI SANs are read from the DER
 * (`certificateIdentity` of `@baton/workload-identity`), never from Node's printed `subjectaltname`.
 * For `node:http`/`https` and Express requests (`request.socket`), Hono on `@hono/node-server`
 * (`c.env.incoming.socket`). Not for HTTP/2, whose request socket is a proxy.
 *
 * @example
 * https.createServer(serverTlsOptions({ identity, ca, requireClientCertificate: true }), (request, response) => {
 *   const certificate = clientCertificateOf(request.socket); // { thumbprint, spiffeId, uris, subject }
 * });
 */
export function clientCertificateOf(socket: unknown): ClientCertificate | undefined {
  if (!(socket instanceof TLSSocket) || socket.authorized !== true) return undefined;
  const peer = socket.getPeerX509Certificate();
  if (!peer) return undefined;
  // TLS 1.2 renegotiation may change the certificate on a live connection: the cache holds only while
  // the fingerprint is the same.
  const fingerprint = peer.fingerprint256;
  let cached = read.get(socket);
  if (cached?.fingerprint !== fingerprint) {
    cached = {
      fingerprint,
      notAfter: Date.parse(peer.validTo),
      certificate: Object.freeze({ ...certificateIdentity(peer.raw) }),
    };
    read.set(socket, cached);
  }
  // The handshake checked validity once; a kept-alive connection or a resumed session outlives it.
  return Date.now() < cached.notAfter ? cached.certificate : undefined;
}
