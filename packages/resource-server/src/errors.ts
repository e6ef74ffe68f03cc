import { ProtocolRefusal } from '@baton/core';

/**
 * Why a request was refused, privately. Stable codes for logs, audit and tests; they never reach
 * the wire, where only the RFC 6750 `error` and a public description go.
 */
export type RefusalReason =
  | 'token_missing'
  | 'authorization_header_malformed'
  | 'token_malformed'
  | 'alg_not_allowed'
  | 'typ_invalid'
  | 'key_unknown'
  | 'signature_invalid'
  | 'issuer_invalid'
  | 'audience_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'claims_invalid'
  | 'token_inactive'
  | 'scope_insufficient'
  | 'caller_not_a_person'
  | 'authorization_server_unavailable'
  | 'token_revoked'
  | 'subject_revoked'
  | 'session_revoked'
  | 'client_revoked'
  | 'revocation_status_unknown'
  // Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mutual TLS): see `sender-constraint.ts`.
  | 'dpop_proof_missing'
  | 'dpop_header_repeated'
  | 'dpop_proof_malformed'
  | 'dpop_typ_invalid'
  | 'dpop_alg_not_allowed'
  | 'dpop_jwk_invalid'
  | 'dpop_signature_invalid'
  | 'dpop_htm_mismatch'
  | 'dpop_htu_mismatch'
  | 'dpop_iat_invalid'
  | 'dpop_ath_mismatch'
  | 'dpop_key_mismatch'
  | 'dpop_proof_replayed'
  | 'dpop_replay_check_unavailable'
  | 'dpop_replay_quota'
  | 'dpop_nonce_required'
  | 'dpop_nonce_invalid'
  | 'dpop_nonce_expired'
  | 'dpop_bound_token_as_bearer'
  | 'dpop_token_not_bound'
  | 'dpop_required'
  | 'certificate_missing'
  | 'certificate_mismatch'
  | 'cnf_unsupported';

/**
 * RFC 6750 §3.1 error codes, RFC 9449 §7.1 and §9's DPoP errors, plus `temporarily_unavailable` for a
 * dependency that is down.
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable';

/**
 * A refused bearer request, a `ProtocolRefusal` whose `code` is its RFC 6750 error (`credentials_missing`
 * when `error` is `undefined`). `error` and `description` are public (they go into the response and the
 * `WWW-Authenticate` challenge, through `refusalAnswer`); `reason` is private and stable. No field ever
 * holds the token.
 */
export class BearerError extends ProtocolRefusal<RefusalReason> {
  override readonly name = 'BearerError';
  declare readonly error: BearerErrorCode | undefined;
  declare readonly status: 400 | 401 | 403 | 503;
  /** For `insufficient_scope`: every scope the operation needs. */
  readonly requiredScopes: readonly string[];
  /**
   * A fresh server nonce to send as the `DPoP-Nonce` header with this refusal (RFC 9449 §9): always on
   * `use_dpop_nonce`, and on any DPoP refusal when the resource uses nonces. Public by design.
   */
  readonly dpopNonce: string | undefined;

  constructor(
    init: {
      error: BearerErrorCode | undefined;
      status: 400 | 401 | 403 | 503;
      reason: RefusalReason;
      description: string;
      requiredScopes?: readonly string[];
      dpopNonce?: string;
    },
    options?: { cause?: unknown },
  ) {
    super({
      code: init.error ?? 'credentials_missing',
      status: init.status,
      reason: init.reason,
      description: challengeDescription(init.description),
      cause: options?.cause,
    });
    this.requiredScopes = init.requiredScopes ?? [];
    this.dpopNonce = init.dpopNonce;
  }
}

/**
 * A description as RFC 6750 §3 allows it in `error_description` (printable ASCII without `"` and `\`),
 * so that the JSON body and the `WWW-Authenticate` challenge say the same words. Quotes of any kind
 * become `'`, a backslash `/`, anything else outside the set `?`.
 *
 * @example challengeDescription('tool “a” failed') // "tool 'a' failed"
 */
export function challengeDescription(text: string): string {
  return text
    .replace(/["\u201C\u201D\u2018\u2019`]/g, "'")
    .replace(/\\/g, '/')
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
}

/** 401 `invalid_token`: expired, revoked, malformed, or not for this resource (RFC 6750 §3.1). */
export function invalidToken(reason: RefusalReason, description: string, cause?: unknown): BearerError {
  return new BearerError({ error: 'invalid_token', status: 401, reason, description }, { cause });
}

/** 403 `insufficient_scope` naming every scope the operation needs (RFC 6750 §3.1, MCP step-up). */
export function insufficientScope(requiredScopes: readonly string[], description?: string): BearerError {
  return new BearerError({
    error: 'insufficient_scope',
    status: 403,
    reason: 'scope_insufficient',
    description: description ?? `this operation requires scope: ${requiredScopes.join(' ')}`,
    requiredScopes,
  });
}

/** 503: the authorization server could not be asked; authorization fails closed. */
export function authorizationServerUnavailable(cause: unknown): BearerError {
  return new BearerError(
    {
      error: 'temporarily_unavailable',
      status: 503,
      reason: 'authorization_server_unavailable',
      description: 'the token could not be validated right now; try again later',
    },
    { cause },
  );
}

/**
 * 401 `invalid_dpop_proof` (RFC 9449 §7.1): the `DPoP` proof is missing, malformed, or does not match
 * this request or the token's key. Answered with a `WWW-Authenticate: DPoP` challenge.
 */
export function invalidDpopProof(
  reason: RefusalReason,
  description: string,
  options: { cause?: unknown; dpopNonce?: string | undefined } = {},
): BearerError {
  return new BearerError(
    {
      error: 'invalid_dpop_proof',
      status: 401,
      reason,
      description,
      ...(options.dpopNonce ? { dpopNonce: options.dpopNonce } : {}),
    },
    { cause: options.cause },
  );
}

/** 401 `use_dpop_nonce` (RFC 9449 §9) with the nonce the client must put in its next proof. */
export function useDpopNonce(
  reason: 'dpop_nonce_required' | 'dpop_nonce_invalid' | 'dpop_nonce_expired',
  nonce: string,
): BearerError {
  return new BearerError({
    error: 'use_dpop_nonce',
    status: 401,
    reason,
    description: 'a DPoP proof must carry the nonce this resource server provided',
    dpopNonce: nonce,
  });
}
