import { extractAccessToken, type PresentedToken } from './bearer-header.ts';
import type { ClientCertificate } from './client-certificate.ts';
import { type DpopProofOptions, DpopProofVerifier } from './dpop/proof.ts';
import { BearerError, invalidDpopProof, invalidToken } from './errors.ts';

export interface SenderConstraintOptions {
  /**
   * DPoP (RFC 9449): `Authorization: DPoP` with a proof per request, for tokens bound by `cnf.jkt`.
   * Default: off, and a DPoP-bound token is refused.
   */
  dpop?: DpopProofOptions & {
    /**
     * Whether every token must be DPoP-bound (RFC 9728 `dpop_bound_access_tokens_required`): bearer
     * tokens are then refused. Default `false`: bearer tokens are accepted beside DPoP-bound ones.
     */
    required?: boolean;
  };
  /**
   * Certificate-bound tokens (RFC 8705 §3): a token with `cnf["x5t#S256"]` is accepted when the
   * request came with that TLS client certificate. `{}` to accept them; default: refused.
   */
  mtls?: Record<string, never>;
}

/** How a verified token was bound to its sender, or `undefined` for a bearer token. */
export type SenderConstraint =
  | { readonly method: 'dpop'; readonly jkt: string }
  | { readonly method: 'mtls'; readonly thumbprint: string; readonly spiffeId?: string }
  | undefined;

/** What a request carried beside its token, for the sender-constraint check. */
export interface SenderConstraintRequest {
  /** The request's method (`htm`). */
  method: string;
  /** The resource's public URL for this request (`htu`): from configuration, not from `Host`. */
  htu: string | URL;
  /** The TLS client certificate the transport verified (`clientCertificateOf`), if any. */
  clientCertificate?: ClientCertificate | undefined;
}

/** The `cnf` members this resource knows how to check. */
const KNOWN_CNF = new Set(['jkt', 'x5t#S256']);

/**
 * The sender-constraint policy of one resource, run after the token verifies (RFC 9449 §7, RFC 8705
 * §3): a token with `cnf.jkt` needs `Authorization: DPoP` and a valid proof by that key; a token with
 * `cnf["x5t#S256"]` needs the TLS client certificate with that thumbprint; a `cnf` with any other
 * member (or none) is refused, since its binding could not be checked; a DPoP-bound token sent as
 * `Bearer` is refused (RFC 9449 §7.2, no downgrade). An unbound token is a bearer token: accepted as
 * `Bearer` unless DPoP is required, refused under the `DPoP` scheme (it binds nothing to the proof).
 * A `DPoP` header beside `Authorization: Bearer` and an unbound token is ignored when DPoP is not
 * required: the proof binds nothing, and RFC 9449 §7.2 lets such a resource treat the request as
 * a bearer request.
 *
 * @example
 * const constraints = new SenderConstraints({ dpop: { replay: new MemoryDpopReplayStore() } });
 * const presented = constraints.presented(request.headers);
 * const claims = await verifier.verify(presented.token);
 * const bound = await constraints.check(claims.claims, presented, { method: request.method, htu: resource });
 */
export class SenderConstraints {
  readonly dpop: (DpopProofVerifier & { readonly required: boolean }) | undefined;
  readonly mtls: boolean;

  constructor(options: SenderConstraintOptions = {}) {
    if (options.dpop !== undefined) {
      const required = options.dpop.required ?? false;
      if (typeof required !== 'boolean')
        throw new TypeError('SenderConstraints: dpop.required must be a boolean');
      this.dpop = Object.assign(new DpopProofVerifier(options.dpop), { required });
    }
    if (options.mtls !== undefined && (typeof options.mtls !== 'object' || options.mtls === null))
      throw new TypeError('SenderConstraints: mtls must be an object');
    this.mtls = options.mtls !== undefined;
  }

  /**
   * The request's token, scheme and proof (`extractAccessToken`); the `DPoP` scheme is 400
   * `invalid_request` at a resource that does not take DPoP.
   */
  presented(headers: Headers): PresentedToken {
    const presented = extractAccessToken(headers);
    if (presented.scheme === 'dpop' && !this.dpop)
      throw new BearerError({
        error: 'invalid_request',
        status: 400,
        reason: 'authorization_header_malformed',
        description: "this resource takes 'Bearer' tokens only",
      });
    return presented;
  }

  /** Checks the verified token's binding against the request; throws `BearerError`. */
  async check(
    claims: Readonly<Record<string, unknown>>,
    presented: PresentedToken,
    request: SenderConstraintRequest,
  ): Promise<SenderConstraint> {
    const cnf = claims.cnf;
    if (cnf === undefined) return this.#unbound(presented);
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
      throw invalidToken('cnf_unsupported', 'the access token confirmation claim is malformed');
    const members = Object.keys(cnf);
    if (members.length === 0 || members.some((member) => !KNOWN_CNF.has(member)))
      throw invalidToken(
        'cnf_unsupported',
        'the access token is bound by a method this resource cannot check',
      );
    const { jkt, 'x5t#S256': thumbprint } = cnf as { jkt?: unknown; 'x5t#S256'?: unknown };
    let constraint: SenderConstraint;
    // Both members: both must hold; the DPoP key is reported (the stronger, per-request proof).
    if (thumbprint !== undefined) constraint = this.#checkCertificate(thumbprint, request.clientCertificate);
    if (jkt !== undefined) constraint = await this.#checkDpop(jkt, presented, request);
    if (thumbprint !== undefined && jkt === undefined && presented.scheme === 'dpop')
      throw invalidToken('dpop_token_not_bound', "a token not bound to a DPoP key must be sent as 'Bearer'");
    return constraint;
  }

  /** A fresh DPoP nonce for a successful response, when nonces are on (RFC 9449 §8.2). */
  freshNonce(): string | undefined {
    return this.dpop?.freshNonce();
  }

  /** RFC 9728 §2 members for this policy (RFC 9449 §7.1, RFC 8705 §3.3 `tls_client_certificate_bound_access_tokens`). */
  metadata(): {
    dpop_signing_alg_values_supported?: string[];
    dpop_bound_access_tokens_required?: boolean;
    tls_client_certificate_bound_access_tokens?: boolean;
  } {
    return {
      ...(this.dpop
        ? {
            dpop_signing_alg_values_supported: [...this.dpop.algorithms],
            dpop_bound_access_tokens_required: this.dpop.required,
          }
        : {}),
      ...(this.mtls ? { tls_client_certificate_bound_access_tokens: true } : {}),
    };
  }

  /** What `bearerErrorResponse` needs for its challenges. */
  challenge(): { dpop?: { algorithms: readonly string[]; bearer: boolean } } {
    return this.dpop ? { dpop: { algorithms: this.dpop.algorithms, bearer: !this.dpop.required } } : {};
  }

  #unbound(presented: PresentedToken): undefined {
    if (presented.scheme === 'dpop')
      throw invalidToken('dpop_token_not_bound', "a token not bound to a DPoP key must be sent as 'Bearer'");
    if (this.dpop?.required)
      throw invalidToken('dpop_required', 'this resource accepts DPoP-bound access tokens only');
    return undefined;
  }

  async #checkDpop(
    jkt: unknown,
    presented: PresentedToken,
    request: SenderConstraintRequest,
  ): Promise<SenderConstraint> {
    if (!this.dpop)
      throw invalidToken(
        'cnf_unsupported',
        'the access token is bound by a method this resource cannot check',
      );
    if (typeof jkt !== 'string' || jkt === '')
      throw invalidToken('cnf_unsupported', 'the access token confirmation claim is malformed');
    // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is a downgrade, refused outright.
    if (presented.scheme !== 'dpop')
      throw invalidToken(
        'dpop_bound_token_as_bearer',
        "a DPoP-bound access token must be sent with the 'DPoP' scheme",
      );
    if (presented.proof === undefined)
      throw invalidDpopProof('dpop_proof_missing', 'a DPoP-bound access token needs a DPoP proof', {
        dpopNonce: this.dpop.freshNonce(),
      });
    const proof = await this.dpop.verify(presented.proof, {
      method: request.method,
      htu: request.htu,
      accessToken: presented.token,
      jkt,
    });
    return Object.freeze({ method: 'dpop' as const, jkt: proof.jkt });
  }

  #checkCertificate(thumbprint: unknown, certificate: ClientCertificate | undefined): SenderConstraint {
    if (!this.mtls)
      throw invalidToken(
        'cnf_unsupported',
        'the access token is bound by a method this resource cannot check',
      );
    if (typeof thumbprint !== 'string' || thumbprint === '')
      throw invalidToken('cnf_unsupported', 'the access token confirmation claim is malformed');
    // RFC 8705 §3: invalid_token when the connection's certificate is not the one the token is bound to.
    if (!certificate)
      throw invalidToken('certificate_missing', 'this access token is bound to a TLS client certificate');
    if (certificate.thumbprint !== thumbprint)
      throw invalidToken(
        'certificate_mismatch',
        'this access token is bound to another TLS client certificate',
      );
    return Object.freeze({
      method: 'mtls' as const,
      thumbprint,
      ...(certificate.spiffeId ? { spiffeId: certificate.spiffeId } : {}),
    });
  }
}
