import { constants } from 'node:crypto';
import type { AgentOptions } from 'node:https';
import {
  checkServerIdentity,
  createSecureContext,
  type PeerCertificate,
  type SecureVersion,
  type TlsOptions,
} from 'node:tls';
import { certificateIdentity } from './certificate-identity.ts';
import { isWorkloadSpiffeId } from './spiffe-id.ts';

/** The key and certificate chain a workload presents: a `WorkloadCertificate`, or PEM read from files. */
export interface TlsIdentity {
  readonly chainPem: string;
  readonly privateKeyPem: string;
}

/** Trust anchors, PEM: the internal CA's `certificatePem`, or several (a CA rotation's old and new). */
export type TrustAnchors = string | readonly string[];

/** TLS 1.2 at least: what RFC 8705 deployments and every current Node peer speak. */
const DEFAULT_MIN_VERSION: SecureVersion = 'TLSv1.2';

export interface ServerTlsOptionsInit {
  identity: TlsIdentity;
  /** The CAs whose client certificates are verified; only these. */
  ca: TrustAnchors;
  /**
   * `true`: a client without a certificate the CAs verify is refused in the handshake (mutual TLS
   * between hops). `false`: a certificate is asked for and verified but not required; a request on a
   * connection without a verified one has no `clientCertificateOf` (a broker serving both kinds of
   * client). Required: which one a server wants is a security decision.
   */
  requireClientCertificate: boolean;
  minVersion?: SecureVersion;
}

/**
 * Options for `https.createServer` / `tls.createServer` that serve `identity` and ask clients for a
 * certificate from `ca` (`requestCert`), refusing the handshake without one when
 * `requireClientCertificate` (`rejectUnauthorized`). Read the client's certificate per request with
 * `clientCertificateOf(request.socket)` (`@baton/resource-server/node`).
 *
 * @example
 * const server = https.createServer(serverTlsOptions({ identity, ca: ca.certificatePem, requireClientCertificate: true }));
 * serveNodeRequests(server, boundary.protect(mcp)).listen(8443);
 */
export function serverTlsOptions(init: ServerTlsOptionsInit): TlsOptions {
  if (typeof init.requireClientCertificate !== 'boolean')
    throw new TypeError('requireClientCertificate must be true or false');
  return {
    cert: init.identity.chainPem,
    key: init.identity.privateKeyPem,
    ca: anchors(init.ca),
    requestCert: true,
    rejectUnauthorized: init.requireClientCertificate,
    minVersion: init.minVersion ?? DEFAULT_MIN_VERSION,
    // TLS 1.2 renegotiation lets a client present another certificate on a live connection, and Node
    // leaves `socket.authorized` as the first handshake set it: a client verified once could swap in
    // an unverified certificate naming anyone. No renegotiation at all (TLS 1.3 has none).
    // OpenSSL answers a renegotiation request with a `no_renegotiation` alert.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
}

export interface ClientTlsOptionsInit {
  /** The client certificate to present; omit for server authentication only. */
  identity?: TlsIdentity;
  /** The CAs the server's certificate must chain to; only these (not the public web PKI). */
  ca: TrustAnchors;
  /**
   * The SPIFFE ID the server's certificate must name (its only URI SAN, X509-SVID §2), on top of the
   * host name check: every workload certificate of a CA chains to the same anchors and may name the
   * same hosts, so without it any workload that can take the server's port or intercept its traffic is
   * trusted as the server. Pin one dispatcher per destination. Trust only anchors of this ID's trust
   * domain in `ca`: a SPIFFE ID counts only in the trust domain of the anchor that verified it.
   */
  serverSpiffeId?: string;
  minVersion?: SecureVersion;
}

/**
 * Options for `new https.Agent(…)`, `https.request` or `tls.connect`: present `identity` and trust
 * only `ca`. The server's certificate is verified and its name checked against the host called
 * (`rejectUnauthorized` is always on), and, with `serverSpiffeId`, its SPIFFE ID against that one
 * (refused with `ERR_TLS_SERVER_SPIFFE_ID_MISMATCH`). The TLS context is built here, once, and shared by every
 * connection made with these options.
 *
 * @example
 * const agent = new https.Agent({ ...clientTlsOptions({ identity, ca: ca.certificatePem }), keepAlive: true });
 */
export function clientTlsOptions(init: ClientTlsOptionsInit): AgentOptions {
  const options = {
    ...(init.identity ? { cert: init.identity.chainPem, key: init.identity.privateKeyPem } : {}),
    ca: anchors(init.ca),
    minVersion: init.minVersion ?? DEFAULT_MIN_VERSION,
  };
  // Built once: without it every new connection parses the key, the chain and the CAs again (about
  // half a millisecond each time). The PEM fields stay for what keys its pools by them (`https.Agent`).
  return {
    ...options,
    secureContext: createSecureContext(options),
    rejectUnauthorized: true,
    ...(init.serverSpiffeId !== undefined ? { checkServerIdentity: pinnedServer(init.serverSpiffeId) } : {}),
  };
}

/** Node's host name check, then the peer certificate's SPIFFE ID against the expected one. */
function pinnedServer(expected: string): (host: string, certificate: PeerCertificate) => Error | undefined {
  if (typeof expected !== 'string' || !isWorkloadSpiffeId(expected))
    throw new TypeError('serverSpiffeId must be a workload SPIFFE ID');
  return (host, certificate) => {
    const hostError = checkServerIdentity(host, certificate);
    if (hostError) return hostError;
    let spiffeId: string | undefined;
    try {
      spiffeId = certificateIdentity(certificate.raw).spiffeId;
    } catch {
      spiffeId = undefined;
    }
    if (spiffeId === expected) return undefined;
    // The message names what was expected, never what the peer wrote.
    return Object.assign(new Error(`the server's certificate does not name ${expected}`), {
      code: 'ERR_TLS_SERVER_SPIFFE_ID_MISMATCH',
    });
  };
}

function anchors(ca: TrustAnchors): string[] {
  const list = typeof ca === 'string' ? [ca] : [...ca];
  if (
    list.length === 0 ||
    list.some((pem) => typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----'))
  )
    throw new TypeError('ca must be one or more PEM certificates');
  return list;
}
