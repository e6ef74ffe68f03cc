import type { X509Certificate } from 'node:crypto';
import { type DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { authorityTrustDomain, certificateIdentity, parseSpiffeId } from '@baton/workload-identity';
import type { ClientCertificate } from '../client-certificate.ts';

/** Per connection: the peer certificate's fingerprint when first read, and what it names, read once. */
const pinned = new WeakMap<
  TLSSocket,
  { fingerprint: string; notAfter: number; certificate?: ClientCertificate }
>();

/**
 * The certificate the client presented on this connection, verified or not, only while it is the one
 * the connection was first read with: a later change (TLS 1.2 renegotiation, which Baton's servers
 * refuse anyway) makes it `undefined` for good. `undefined` too on a plain socket or without one.
 */
export function peerCertificateOf(socket: unknown): X509Certificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const peer = socket.getPeerX509Certificate();
  if (!peer) return undefined;
  const pin = pinned.get(socket);
  if (!pin) {
    pinned.set(socket, { fingerprint: peer.fingerprint256, notAfter: Date.parse(peer.validTo) });
    return peer;
  }
  return pin.fingerprint === peer.fingerprint256 ? peer : undefined;
}

/**
 * The client certificate of a connection (RFC 8705 §2), or `undefined`: only for a TLS socket whose
 * handshake verified the certificate against the server's CAs (`socket.authorized`). A certificate the
 * handshake did not authorize (a server that asks for one without requiring it, `rejectUnauthorized:
 * false`) is never returned, nor one that has expired since the handshake (a kept-alive connection, a
 * resumed session), nor one other than the connection's first (`peerCertificateOf`), and a plain HTTP
 * socket has none. The URI SANs are read from the DER (`certificateIdentity` of
 * `@baton/workload-identity`), never from Node's printed `subjectaltname`. The SPIFFE ID is given only
 * when its trust domain is the one of the trust anchor the certificate chains to
 * (`authorityTrustDomain`): with several trust domains' CAs trusted, one cannot issue another's IDs.
 * For `node:http`/`https` and Express requests (`request.socket`), Hono on `@hono/node-server`
 * (`c.env.incoming.socket`). Not for HTTP/2, whose request socket is a proxy.
 *
 * @example
 * https.createServer(serverTlsOptions({ identity, ca, requireClientCertificate: true }), (request, response) => {
 *   const certificate = clientCertificateOf(request.socket); // { thumbprint, spiffeId, uris, subject }
 * });
 */
export function clientCertificateOf(socket: unknown): ClientCertificate | undefined {
  // Node sets `authorized` once and, should a later handshake fail verification, only
  // `authorizationError`: both are asked.
  if (!(socket instanceof TLSSocket) || socket.authorized !== true || socket.authorizationError)
    return undefined;
  const peer = peerCertificateOf(socket);
  const pin = pinned.get(socket);
  if (!peer || !pin) return undefined;
  // The handshake checked validity once; a kept-alive connection or a resumed session outlives it.
  if (Date.now() >= pin.notAfter) return undefined;
  pin.certificate ??= Object.freeze(namesOf(socket, peer));
  return pin.certificate;
}

/**
 * Trust domains of the anchors seen, by fingerprint: only the server's own trusted CAs end a verified
 * chain, so it stays as small as its CA bundle, and each is parsed once.
 */
const anchorTrustDomains = new Map<string, string | undefined>();

function namesOf(socket: TLSSocket, peer: X509Certificate): ClientCertificate {
  const { spiffeId, ...names } = certificateIdentity(peer.raw);
  if (spiffeId === undefined) return names;
  const anchor = anchorOf(socket.getPeerCertificate(true));
  let trustDomain: string | undefined;
  if (anchor) {
    if (!anchorTrustDomains.has(anchor.fingerprint256))
      anchorTrustDomains.set(anchor.fingerprint256, authorityTrustDomain(anchor.raw));
    trustDomain = anchorTrustDomains.get(anchor.fingerprint256);
  }
  return parseSpiffeId(spiffeId).trustDomain === trustDomain ? { spiffeId, ...names } : names;
}

/** The root the verified chain ends in (Node adds it from the server's CAs): self-issued, its own issuer. */
function anchorOf(certificate: DetailedPeerCertificate): DetailedPeerCertificate | undefined {
  let current = certificate;
  for (let depth = 0; depth < 10 && current?.raw; depth += 1) {
    const issuer = current.issuerCertificate;
    if (!issuer?.raw) return undefined;
    if (issuer === current || issuer.fingerprint256 === current.fingerprint256) return current;
    current = issuer;
  }
  return undefined;
}
