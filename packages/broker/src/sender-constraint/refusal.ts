import type { TokenRequestReason } from '@baton/audit';

/**
 * A token request refused for its DPoP proof with oidc-provider's own error (`invalid_dpop_proof`,
 * `use_dpop_nonce`, which `@baton/core`'s refusal codes do not name), audited under a stable `reason`.
 * oidc-provider renders `oauthError` (its public description) and keeps the `DPoP-Nonce` header its
 * validator set; `detail` goes to the broker's log only.
 */
export class ProofRefusal extends Error {
  override readonly name = 'ProofRefusal';
  readonly reason: TokenRequestReason;
  readonly detail: string | undefined;
  readonly oauthError: Error;

  constructor(reason: TokenRequestReason, oauthError: Error & { error_description?: string }) {
    super(oauthError.message);
    this.reason = reason;
    this.oauthError = oauthError;
    this.detail = oauthError.error_description;
  }
}
