import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import validateDpop, { checkDpopReplay } from 'oidc-provider/lib/helpers/validate_dpop.js';

/** A DPoP proof oidc-provider verified. */
export interface ValidatedDpopProof {
  /** RFC 7638 thumbprint of the proof's `jwk` header: the issued token's `cnf.jkt`. */
  readonly thumbprint: string;
  readonly jti: string;
  readonly iat: number;
}

/**
 * The token endpoint's DPoP proof (RFC 9449 §4.3), verified by oidc-provider's own validator — the one
 * its built-in grants call (`validateDpop` in their grant helpers, which a grant registered with
 * `registerGrantType` is not handed): `typ`, the embedded `jwk`, the algorithm allow-list
 * (`dPoPSigningAlgValues`), `htm`, `htu` (this endpoint under the configured issuer), `iat` window, and server nonces
 * (`features.dPoP.nonceSecret`/`requireNonce`, setting `DPoP-Nonce` on the answer). Throws
 * `invalid_dpop_proof` or `use_dpop_nonce`; `undefined` when the request carries no proof.
 *
 * The only place the broker reaches into oidc-provider's internals: one module, so an upgrade that
 * moves it breaks here (and in `test/sender-constraint.test.ts`), not silently.
 */
export async function verifyDpopProof(ctx: KoaContextWithOIDC): Promise<ValidatedDpopProof | undefined> {
  const oidc = ctx.oidc;
  // oidc-provider compares `htu` with `ctx.oidc.urlFor(route)`, built from the request's Host header
  // and socket protocol: a client could redeem a proof made for another server's endpoint by sending
  // that Host, and behind a TLS-terminating proxy no proof would match. For the duration of its
  // validator (its other checks unchanged), the expected `htu` is pinned to this endpoint under the
  // configured issuer (`provider.urlFor`), as the resource servers pin theirs. oidc-provider puts the
  // issuer's path before its routes (an issuer `https://gw.example/broker` pins
  // `https://gw.example/broker/token`), where broker-client sends its requests.
  const urlFor = oidc.urlFor;
  const pinned = oidc.provider.urlFor(oidc.route);
  oidc.urlFor = (name, options) => (name === oidc.route ? pinned : urlFor.call(oidc, name, options));
  try {
    return await validateDpop(oidc.provider, ctx);
  } finally {
    oidc.urlFor = urlFor;
  }
}

/**
 * Records the proof's `jti` in oidc-provider's replay store (its `ReplayDetection` model, shared by the
 * instances through the adapter), as its own grants do before binding a token (`applyDpopBinding`); a
 * proof seen before is refused with `invalid_dpop_proof` (RFC 9449 §11.1) rather than the
 * `invalid_grant` oidc-provider's grants answer.
 */
export function consumeDpopProof(ctx: KoaContextWithOIDC, proof: ValidatedDpopProof): Promise<void> {
  return checkDpopReplay(ctx.oidc.provider, ctx, proof, ctx.oidc.client!.clientId, errors.InvalidDpopProof);
}
