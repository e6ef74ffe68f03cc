import type { X509Certificate } from 'node:crypto';
import type { Confirmation } from '@baton/audit';
import { errors } from 'oidc-provider';
import type { Check } from '../grants/checks.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import { refuse } from '../grants/refusal.ts';
import { ProofRefusal } from './refusal.ts';

/** What the sender-constraint check adds: what the issued token is bound to, and who sent the request. */
export interface SenderConstrained {
  /** The key (RFC 9449 `cnf.jkt`) or the certificate (RFC 8705 `cnf.x5t#S256`) the token is bound to. */
  readonly binding: { readonly jkt?: string; readonly certificate?: X509Certificate };
  /**
   * The client's workload identity (SPIFFE ID): from a certificate the broker's trusted client CAs
   * verified, that the client authenticated with (`tls_client_auth`) or its token is bound to.
   */
  readonly workload: string | undefined;
}

/**
 * Check, sender constraint (what oidc-provider's own `client_credentials` grant does, for Baton's
 * grants): a DPoP proof, when sent, is verified and its `jti` consumed, and the token is bound to its
 * key; a client registered with `dpop_bound_access_tokens` must send one. A client registered with
 * `tls_client_certificate_bound_access_tokens` must have presented a certificate over TLS, and its
 * token is bound to it (RFC 8705 §3; a self-signed certificate binds as well as a CA-issued one); such
 * a client sending a DPoP proof too is refused, as oidc-provider refuses two bindings on one token.
 */
export const senderConstraint: Check<GrantRequest, SenderConstrained> = async ({ client, possession }) => {
  let jkt: string | undefined;
  try {
    const proof = await possession.dpop();
    if (proof) {
      try {
        await possession.consume(proof);
      } catch (error) {
        throw new ProofRefusal('dpop_proof_replayed', error as Error);
      }
      jkt = proof.thumbprint;
    }
  } catch (error) {
    if (error instanceof ProofRefusal) throw error;
    if (error instanceof errors.UseDpopNonce) throw new ProofRefusal('dpop_nonce_required', error);
    if (error instanceof errors.InvalidDpopProof) throw new ProofRefusal('dpop_proof_invalid', error);
    throw error;
  }
  if (!jkt && client.dpopBoundAccessTokens) {
    throw refuse.grant('dpop_proof_missing', 'DPoP proof JWT not provided');
  }
  let certificate: X509Certificate | undefined;
  if (client.tlsClientCertificateBoundAccessTokens) {
    certificate = possession.certificate;
    if (!certificate) throw refuse.grant('certificate_missing', 'mutual TLS client certificate not provided');
    // oidc-provider binds a token to one proof-of-possession mechanism, never both.
    if (jkt)
      throw refuse.request(
        'proof_of_possession_conflict',
        'multiple proof-of-possession mechanisms are not allowed',
      );
  }
  const verified = possession.verified;
  const workload =
    verified && (client.clientAuthMethod === 'tls_client_auth' || certificate !== undefined)
      ? verified.spiffeId
      : undefined;
  return {
    binding: { ...(jkt ? { jkt } : {}), ...(certificate ? { certificate } : {}) },
    workload,
  };
};

/** A token model of oidc-provider that can be sender-constrained (AccessToken, ClientCredentials). */
interface BindableToken {
  setThumbprint(prop: 'jkt', input: string): void;
  setThumbprint(prop: 'x5t', input: X509Certificate): void;
  readonly tokenType: string;
  readonly jkt?: string;
  readonly 'x5t#S256'?: string;
}

/**
 * Binds the token model as oidc-provider's grants do (`setThumbprint`): its JWT gets `cnf`, and its
 * `tokenType` becomes `DPoP` for a DPoP-bound token. Returns the `cnf` the token now carries, read
 * back from the model, for the issuer to report (`Issued.cnf`) and the audit to record.
 */
export function bindToken(
  token: BindableToken,
  binding: SenderConstrained['binding'],
): Confirmation | undefined {
  if (binding.certificate) token.setThumbprint('x5t', binding.certificate);
  if (binding.jkt) token.setThumbprint('jkt', binding.jkt);
  const cnf: Confirmation = {
    ...(token.jkt ? { jkt: token.jkt } : {}),
    ...(token['x5t#S256'] ? { 'x5t#S256': token['x5t#S256'] } : {}),
  };
  return Object.keys(cnf).length > 0 ? cnf : undefined;
}

/**
 * Refuses a token that cannot carry a binding (a platform's own token, a Txn-Token, a JWT
 * authorization grant) to a client registered for bound tokens only (RFC 9449 §5.2
 * `dpop_bound_access_tokens`, RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`): it would
 * receive a bearer token its registration says it never holds.
 */
export function refuseUnboundToBoundClient(client: {
  readonly dpopBoundAccessTokens?: boolean | undefined;
  readonly tlsClientCertificateBoundAccessTokens?: boolean | undefined;
}): void {
  if (client.dpopBoundAccessTokens || client.tlsClientCertificateBoundAccessTokens)
    throw refuse.request(
      'binding_not_supported',
      'this client is registered for sender-constrained tokens, and the requested token cannot be bound',
    );
}
