import { constants } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { serverTlsOptions } from '@baton/workload-identity';
import type { ClientCertificateMode } from './features.ts';

/**
 * The broker serving HTTPS (RFC 8705 needs the client certificate of the TLS connection itself).
 *
 * @example
 * tls: { cert: serverPem, key: serverKeyPem, clientCa: workloadCaPem, clientCertificates: 'optional' }
 */
export interface BrokerTlsOptions {
  /** The server's certificate (chain), PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /**
   * The CAs (PEM) that issue client (workload) certificates: the only ones a `tls_client_auth` client's
   * certificate may come from. Required with client certificates: without it Node would trust its
   * public root CAs for client certificates.
   */
  clientCa?: string | readonly string[];
  /**
   * `none` (the default without `clientCa`): no client certificates, no mutual TLS. `optional` (the
   * default with it): every client may connect; a certificate is asked for, verified against
   * `clientCa`, and only then trusted for `tls_client_auth`; a certificate no trusted CA issued still
   * authenticates a `self_signed_tls_client_auth` client (its registered `jwks`) and binds its tokens.
   * `required`: the TLS handshake itself refuses a connection without a certificate from `clientCa`
   * (no `self_signed_tls_client_auth`, and every caller, resource servers fetching the JWKS included,
   * needs one).
   */
  clientCertificates?: ClientCertificateMode;
}

/** The mode `tls` asks for, after checking it is complete. */
export function clientCertificateMode(tls: BrokerTlsOptions | undefined): ClientCertificateMode {
  if (!tls) return 'none';
  if (typeof tls.cert !== 'string' || typeof tls.key !== 'string')
    throw new TypeError('startBroker: tls needs cert and key (PEM)');
  const mode = tls.clientCertificates ?? (tls.clientCa ? 'optional' : 'none');
  if (!['none', 'optional', 'required'].includes(mode))
    throw new TypeError(
      `startBroker: tls.clientCertificates must be none, optional or required, not ${mode}`,
    );
  const cas = [tls.clientCa ?? []].flat();
  if (mode !== 'none' && cas.length === 0)
    throw new TypeError(`startBroker: tls.clientCertificates ${mode} needs tls.clientCa`);
  return mode;
}

/** An HTTP server, or with `tls` an HTTPS one asking for client certificates as `tls` says. */
export function brokerServer(tls: BrokerTlsOptions | undefined): Server {
  const mode = clientCertificateMode(tls);
  if (!tls) return createHttpServer();
  // With client certificates, the options every Baton server uses (`serverTlsOptions`): `optional`
  // asks for a certificate and verifies it against `clientCa` without requiring it, so that a
  // `self_signed_tls_client_auth` client's unverified certificate still reaches oidc-provider.
  return createHttpsServer(
    mode === 'none'
      ? // No renegotiation, as `serverTlsOptions` (a client's renegotiation only costs the server work).
        { cert: tls.cert, key: tls.key, secureOptions: constants.SSL_OP_NO_RENEGOTIATION }
      : serverTlsOptions({
          identity: { chainPem: tls.cert, privateKeyPem: tls.key },
          ca: [tls.clientCa ?? []].flat(),
          requireClientCertificate: mode === 'required',
        }),
  ) as unknown as Server;
}
