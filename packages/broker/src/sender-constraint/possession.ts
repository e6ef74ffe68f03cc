import type { X509Certificate } from 'node:crypto';
import type { ClientCertificate } from '@baton/resource-server';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { presentedCertificate, verifiedClientCertificate } from './client-certificate.ts';
import { consumeDpopProof, type ValidatedDpopProof, verifyDpopProof } from './oidc-provider-dpop.ts';

/**
 * What a token request proves possession of, as the transport and its headers carry it: a DPoP proof
 * (verified on demand by oidc-provider's validator) and the TLS client certificate.
 */
export interface Possession {
  /** The request's DPoP proof, verified (`undefined`: none sent). Throws oidc-provider's DPoP errors. */
  dpop(): Promise<ValidatedDpopProof | undefined>;
  /** Records the proof's `jti` as used; throws `invalid_dpop_proof` for a replay. */
  consume(proof: ValidatedDpopProof): Promise<void>;
  /** The certificate the client presented in the TLS handshake, verified by a trusted CA or not. */
  readonly certificate: X509Certificate | undefined;
  /** The presented certificate when a trusted client CA verified it, with its names. */
  readonly verified: ClientCertificate | undefined;
}

export function possessionOf(ctx: KoaContextWithOIDC): Possession {
  let verified: ClientCertificate | undefined | null = null;
  return {
    dpop: () => verifyDpopProof(ctx),
    consume: (proof) => consumeDpopProof(ctx, proof),
    get certificate() {
      return presentedCertificate(ctx);
    },
    get verified() {
      if (verified === null) verified = verifiedClientCertificate(ctx);
      return verified;
    },
  };
}
