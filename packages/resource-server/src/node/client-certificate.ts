import { X509Certificate } from 'node:crypto';
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
 * (`authorityTrustDomain`), every signature on the way checked again (`anchorOf`): with several trust
 * domains' CAs trusted, one cannot issue another's IDs.
 * For `node:http`/`https` and Express requests (`request.socket`), Hono on `@hono/node-server`
 * (`c.env.incoming.socket`). HTTP/2 (`http2.createSecureServer`): through `request.socket` (tested on
 * Node 24).
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
 * Trust domains of the anchors that ended a chain whose signatures verified (`anchorOf`), by
 * fingerprint, each parsed and self-verified once. Bounded, oldest dropped first: a client cannot grow
 * it with self-signed roots of its own making.
 */
const anchorTrustDomains = new Map<string, string | undefined>();
const ANCHORS_CACHED = 64;

function namesOf(socket: TLSSocket, peer: X509Certificate): ClientCertificate {
  const { spiffeId, ...names } = certificateIdentity(peer.raw);
  if (spiffeId === undefined) return names;
  const anchor = anchorOf(socket.getPeerCertificate(true), peer);
  // The anchor must be one the server was configured to trust, by fingerprint: on Node 22 the chain
  // Node reports is built from what the client sent, so a trusted partner CA could self-sign a second
  // "root" with its real key and another trust domain's SAN, every signature valid.
  if (!anchor || !configuredAnchors(socket)?.has(anchor.fingerprint256)) return names;
  let trustDomain = anchorTrustDomains.get(anchor.fingerprint256);
  if (trustDomain === undefined && !anchorTrustDomains.has(anchor.fingerprint256)) {
    trustDomain = authorityTrustDomain(anchor.raw);
    if (anchorTrustDomains.size >= ANCHORS_CACHED)
      anchorTrustDomains.delete(anchorTrustDomains.keys().next().value as string);
    anchorTrustDomains.set(anchor.fingerprint256, trustDomain);
  }
  return parseSpiffeId(spiffeId).trustDomain === trustDomain ? { spiffeId, ...names } : names;
}

/**
 * The self-signed root the peer's chain ends in, every link checked: each certificate names the next
 * as its issuer and verifies with its key, and the root verifies with its own. Before Node 24, Node
 * links the chain it reports by names and key identifiers only, preferring certificates the client
 * sent, so a client could append a "root" of its own making (the trusted CA's subject and key
 * identifier, another trust domain's SAN) after a leaf the handshake verified against the real CA.
 * `undefined` (no SPIFFE ID) whenever a link does not verify or the chain does not start at `peer`.
 */
function anchorOf(chain: DetailedPeerCertificate, peer: X509Certificate): X509Certificate | undefined {
  if (!chain?.raw?.equals(peer.raw)) return undefined;
  let current = chain;
  let certificate = peer;
  for (let depth = 0; depth < 10; depth += 1) {
    const next = current.issuerCertificate;
    if (!next?.raw) return undefined;
    if (next === current || next.raw.equals(current.raw))
      // A root in the cache verified its own signature when it was put there.
      return anchorTrustDomains.has(certificate.fingerprint256) || signed(certificate, certificate)
        ? certificate
        : undefined;
    const issuer = new X509Certificate(next.raw);
    if (!signed(certificate, issuer)) return undefined;
    current = next;
    certificate = issuer;
  }
  return undefined;
}

function signed(certificate: X509Certificate, by: X509Certificate): boolean {
  return certificate.checkIssued(by) && certificate.verify(by.publicKey);
}

/** Per TLS server: the fingerprints of the CA certificates in its `ca` option, parsed once per value. */
const serverAnchors = new WeakMap<object, { ca: unknown; fingerprints: ReadonlySet<string> }>();

/**
 * The fingerprints of the CAs the server accepting `socket` trusts for client certificates: its `ca`
 * option (`server.ca`, which `tls.Server` keeps from its options and `setSecureContext`, on Node 22 and
 * 24), PEM strings or buffers, one or several certificates each. `undefined` without one (a server that
 * trusts the system roots names no trust domain).
 */
function configuredAnchors(socket: TLSSocket): ReadonlySet<string> | undefined {
  const server = (socket as unknown as { server?: { ca?: unknown } }).server;
  const ca = server?.ca;
  if (!server || ca === undefined || ca === null) return undefined;
  const known = serverAnchors.get(server);
  if (known?.ca === ca) return known.fingerprints;
  const fingerprints = new Set<string>();
  for (const entry of Array.isArray(ca) ? ca : [ca]) {
    const text = typeof entry === 'string' ? entry : Buffer.isBuffer(entry) ? entry.toString('latin1') : '';
    for (const pem of text.match(PEM_CERTIFICATE) ?? []) {
      try {
        fingerprints.add(new X509Certificate(pem).fingerprint256);
      } catch {
        // Not a certificate Node parses: the handshake could not have chained to it either.
      }
    }
  }
  serverAnchors.set(server, { ca, fingerprints });
  return fingerprints;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
