import type { ClientAuthMethod, KoaContextWithOIDC } from 'oidc-provider';
import {
  certificateAuthorized,
  certificateSubjectMatches,
  presentedCertificate,
} from './client-certificate.ts';

/** How the broker's listener treats TLS client certificates (see `BrokerTlsOptions.clientCertificates`). */
export type ClientCertificateMode = 'none' | 'optional' | 'required';

export interface SenderConstraintConfiguration {
  dpop: {
    /** 32 bytes: server nonces (RFC 9449 §8) every instance sharing it accepts. */
    nonceSecret?: Buffer;
    /** Every token request must carry a proof with a current nonce. */
    requireNonce: boolean;
  };
  clientCertificates: ClientCertificateMode;
}

/**
 * oidc-provider's DPoP and mutual TLS features as the broker configures them.
 *
 * DPoP (RFC 9449) is always on: a proof sent with a token request binds the token (`cnf.jkt`), and a
 * client registered with `dpop_bound_access_tokens` must send one. Nonces need `nonceSecret`.
 *
 * Mutual TLS (RFC 8705) only over HTTPS with client certificates: `tls_client_auth` (a certificate a
 * trusted client CA issued, whose subject DN or SAN is the one the client registered — for a workload,
 * `tls_client_auth_san_uri` is its SPIFFE ID), `self_signed_tls_client_auth` (a certificate in the
 * client's registered `jwks`, `x5c`; only when the listener lets unverified certificates through,
 * `optional`), and certificate-bound tokens (`tls_client_certificate_bound_access_tokens`, `cnf.x5t#S256`).
 * The certificate is read from the TLS connection only. One listener serves every client, certificate
 * or not, so no `mtls_endpoint_aliases` are published.
 */
export function senderConstraintFeatures(configuration: SenderConstraintConfiguration) {
  const mode = configuration.clientCertificates;
  const dPoP = {
    enabled: true,
    ...(configuration.dpop.nonceSecret ? { nonceSecret: configuration.dpop.nonceSecret } : {}),
    requireNonce: () => configuration.dpop.requireNonce,
  };
  if (mode === 'none') {
    return { dPoP, mTLS: { enabled: false }, clientAuthMethods: [] as ClientAuthMethod[] };
  }
  return {
    dPoP,
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: mode === 'optional',
      getCertificate: (ctx: KoaContextWithOIDC) => presentedCertificate(ctx),
      certificateAuthorized: (ctx: KoaContextWithOIDC) => certificateAuthorized(ctx),
      certificateSubjectMatches,
    },
    clientAuthMethods: [
      'tls_client_auth',
      ...(mode === 'optional' ? ['self_signed_tls_client_auth'] : []),
    ] as ClientAuthMethod[],
  };
}

/** DPoP at the token endpoint (see `BrokerOptions.dpop`). */
export interface BrokerDpopOptions {
  /** base64url of 32 random bytes, shared by every instance: the key of its stateless server nonces. */
  nonceSecret?: string;
  /** Every proof must carry a current server nonce (needs `nonceSecret`). Default false. */
  requireNonce?: boolean;
}

/** The DPoP part of oidc-provider's configuration, after checking `dpop`. */
export function dpopConfiguration(dpop: BrokerDpopOptions | undefined) {
  const nonceSecret =
    dpop?.nonceSecret === undefined ? undefined : Buffer.from(dpop.nonceSecret, 'base64url');
  if (nonceSecret && nonceSecret.length !== 32)
    throw new TypeError('startBroker: dpop.nonceSecret must be 32 bytes, base64url');
  if (dpop?.requireNonce && !nonceSecret)
    throw new TypeError('startBroker: dpop.requireNonce needs dpop.nonceSecret');
  return { ...(nonceSecret ? { nonceSecret } : {}), requireNonce: dpop?.requireNonce === true };
}
