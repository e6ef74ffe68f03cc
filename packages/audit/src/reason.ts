/**
 * Why an action was not `ok`: the closed set of reason codes Baton's components write into audit
 * events, so a reader (the console, a SIEM rule, `baton audit`) can enumerate them. Never assembled at
 * runtime from someone else's text; see the table in this package's README for who writes each.
 */

/**
 * A sender-constrained token refused by a resource server (RFC 9449 DPoP proofs, RFC 8705 certificate
 * binding), at the MCP boundary or a downstream API: part of `@baton/resource-server`'s `RefusalReason`.
 */
const SENDER_CONSTRAINT_REASONS = [
  'dpop_proof_missing',
  'dpop_header_repeated',
  'dpop_proof_malformed',
  'dpop_typ_invalid',
  'dpop_alg_not_allowed',
  'dpop_jwk_invalid',
  'dpop_signature_invalid',
  'dpop_htm_mismatch',
  'dpop_htu_mismatch',
  'dpop_iat_invalid',
  'dpop_ath_mismatch',
  'dpop_key_mismatch',
  'dpop_proof_replayed',
  'dpop_replay_check_unavailable',
  'dpop_replay_quota',
  'dpop_nonce_required',
  'dpop_nonce_invalid',
  'dpop_nonce_expired',
  'dpop_bound_token_as_bearer',
  'dpop_token_not_bound',
  'dpop_required',
  'certificate_missing',
  'certificate_mismatch',
  'cnf_unsupported',
] as const;

/** A bearer token refused by a resource server (`@baton/resource-server`'s `RefusalReason`). */
export const BEARER_REFUSAL_REASONS = [
  'token_missing',
  'authorization_header_malformed',
  'token_malformed',
  'alg_not_allowed',
  'typ_invalid',
  'key_unknown',
  'signature_invalid',
  'issuer_invalid',
  'audience_invalid',
  'token_expired',
  'token_not_yet_valid',
  'claims_invalid',
  'token_inactive',
  'scope_insufficient',
  'caller_not_a_person',
  'authorization_server_unavailable',
  'token_revoked',
  'subject_revoked',
  'session_revoked',
  'client_revoked',
  'revocation_status_unknown',
  ...SENDER_CONSTRAINT_REASONS,
] as const;

/** Why the broker refused a subject or actor token: a bearer refusal, or an issuer it does not trust. */
export const INPUT_TOKEN_REASONS = [...BEARER_REFUSAL_REASONS, 'issuer_untrusted'] as const;
export type InputTokenReason = (typeof INPUT_TOKEN_REASONS)[number];

/**
 * A tool invocation, resource read or prompt get at the MCP boundary (`tool.invoke`, `resource.read`,
 * `prompt.get`) that was refused or failed.
 */
export const TOOL_REASONS = [
  'scope_insufficient',
  'actor_type_not_allowed',
  'claims_invalid',
  'tool_reported_error',
  'tool_threw',
  /** A resource's or prompt's handler threw. */
  'handler_threw',
  'policy_denied',
  'policy_input_invalid',
  'approval_required',
  'approval_pending',
  'approval_denied',
  'approval_expired',
  'approval_replayed',
  'approval_input_mismatch',
  'approval_wrong_person',
  /** The approval page's sign-in was not fresh: no `auth_time`, or one before the sign-in started. */
  'approval_sign_in_stale',
  'approval_not_supported',
  /** Data loss prevention withheld the result (`dlp.action: 'block'`). */
  'dlp_blocked',
  /** A rate limit (per person, per agent or per tool) was reached. */
  'rate_limited',
] as const;

/** The OAuth errors a broker answers a token request with (RFC 6749 §5.2, RFC 8693 §2.2.2, RFC 8707). */
export const BROKER_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  /** RFC 9449 §5: the broker refused the DPoP proof of a token request, or wanted a nonce even after a retry. */
  'invalid_dpop_proof',
  'use_dpop_nonce',
] as const;
export type BrokerError = (typeof BROKER_ERRORS)[number];

/** A downstream call made by an MCP server's tool (`api.call` at the calling hop). */
export const DOWNSTREAM_CALL_REASONS = [
  'path_outside_service',
  'downstream_unreachable',
  'broker_unreachable',
  ...BROKER_ERRORS.map((error) => `broker_${error}` as const),
  /** The broker answered with an error outside {@link BROKER_ERRORS}. */
  'broker_refused',
  /**
   * The broker's token is not bound as the service declared (a bearer token for a DPoP service, or a
   * DPoP-bound token for one called without proofs): never sent.
   */
  'token_binding_mismatch',
] as const;

/**
 * The HTTP statuses a call's answer is recorded by (`http_<status>`): RFC 9110's, with 425 (RFC 8470),
 * 428, 429, 431, 511 (RFC 6585) and 451 (RFC 7725). Any other status is recorded by its class.
 */
export const HTTP_STATUSES = [
  300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412,
  413, 414, 415, 416, 417, 421, 422, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 511,
] as const;
export type HttpStatusReason =
  | `http_${(typeof HTTP_STATUSES)[number]}`
  | 'http_redirect'
  | 'http_client_error'
  | 'http_server_error';

/**
 * The reason an answer with `status` (3xx to 5xx) is recorded under: `http_<status>` for a status in
 * {@link HTTP_STATUSES}, otherwise its class (`http_redirect`, `http_client_error`, `http_server_error`).
 *
 * @example
 * httpStatusReason(403); // 'http_403'
 * httpStatusReason(499); // 'http_client_error'
 */
export function httpStatusReason(status: number): HttpStatusReason {
  if ((HTTP_STATUSES as readonly number[]).includes(status)) return `http_${status}` as HttpStatusReason;
  return status < 400 ? 'http_redirect' : status < 500 ? 'http_client_error' : 'http_server_error';
}

/**
 * The reason a refused broker token request is recorded under: `broker_<error>` for an error in
 * {@link BROKER_ERRORS}, otherwise `broker_refused` (the broker's text never becomes a reason).
 *
 * @example
 * brokerRefusalReason('invalid_scope'); // 'broker_invalid_scope'
 */
export function brokerRefusalReason(error: string): DownstreamCallReason {
  return (BROKER_ERRORS as readonly string[]).includes(error)
    ? (`broker_${error}` as DownstreamCallReason)
    : 'broker_refused';
}
export type DownstreamCallReason = (typeof DOWNSTREAM_CALL_REASONS)[number];

/**
 * A connector's RFC 7009 revocation, at the platform, of a token a Baton revocation dropped (`api.call`);
 * an answer other than 200 is recorded by its status (`http_<status>`).
 */
export const PLATFORM_REVOCATION_REASONS = ['revocation_endpoint_unreachable'] as const;
export type PlatformRevocationReason = (typeof PLATFORM_REVOCATION_REASONS)[number] | HttpStatusReason;

/** A token request at the broker (`token.exchange`) that was refused or failed. */
export const TOKEN_REQUEST_REASONS = [
  'parameters_missing',
  'subject_token_type_unsupported',
  'actor_token_type_unsupported',
  'requested_token_type_unsupported',
  'delegation_mode_unknown',
  'audience_count',
  'audience_unknown',
  ...INPUT_TOKEN_REASONS.map((reason) => `subject_${reason}` as const),
  ...INPUT_TOKEN_REASONS.map((reason) => `actor_${reason}` as const),
  'subject_revoked',
  /** Revocation (`@baton/shared-signals`' reasons): a token or its grant, the subject's session, a client in the chain. */
  'token_revoked',
  'session_revoked',
  'client_revoked',
  'actor_mismatch',
  'may_act_mismatch',
  'may_act_issuer_missing',
  'subject_not_for_client',
  'act_malformed',
  'act_missing',
  'depth_exceeded',
  'scope_wider_than_subject',
  'scope_not_approved',
  'scope_not_permitted',
  'subject_not_a_person',
  'impersonation_not_allowed',
  'policy_denied',
  'subject_expiring',
  'platform_unavailable',
  'platform_refused',
  'client_credentials_not_approved',
  'grant_type_not_allowed',
  /** Transaction Tokens (draft-ietf-oauth-transaction-tokens-10): the request's `audience` is not the Trust Domain. */
  'txn_audience_not_trust_domain',
  /** `request_context` / `request_details` is not a JSON object the broker accepts. */
  'request_context_invalid',
  'request_details_invalid',
  /** A Txn-Token presented for replacement does not verify (signature, trust domain, expiry, claims). */
  'txn_token_invalid',
  /** A Txn-Token was presented to obtain anything but a replacement Txn-Token. */
  'txn_token_not_exchangeable',
  /** A replacement Txn-Token would widen, or change, what the one it replaces asserts. */
  'txn_replacement_wider',
  /** A Txn-Token presented for replacement by a client it was neither issued to (`req_wl`) nor for (`tctx.allowed`). */
  'txn_replacement_not_holder',
  /** Sender constraint at the token endpoint (RFC 9449, RFC 8705): no DPoP proof from a client that must send one. */
  'dpop_proof_missing',
  /** A DPoP proof that does not verify (signature, `typ`, `htm`, `htu`, `iat`, algorithm). */
  'dpop_proof_invalid',
  /** A DPoP proof whose `jti` was seen before. */
  'dpop_proof_replayed',
  /** A DPoP proof without the server's (current) nonce: answered `use_dpop_nonce` with a fresh one. */
  'dpop_nonce_required',
  /** No TLS client certificate from a client whose tokens are certificate-bound. */
  'certificate_missing',
  /** A DPoP proof from a client whose tokens are certificate-bound: one token gets one binding. */
  'proof_of_possession_conflict',
  /**
   * A token that cannot carry `cnf` (a platform token, a Txn-Token, a JWT authorization grant) asked for
   * by a client registered for sender-constrained tokens only.
   */
  'binding_not_supported',
  /** The client or the subject reached its token-exchange rate limit. */
  'rate_limited',
  /** A dependency of the broker (an issuer's JWKS, introspection) could not be reached. */
  'authorization_server_unavailable',
  /**
   * RFC 7523 jwt-bearer grant (ID-JAG, or a home broker's JWT authorization grant): the assertion is
   * missing or not a JWT, from an issuer not trusted for it, of the wrong `typ`, badly signed, for
   * another audience, expired (or too old, or issued in the future), missing a required claim, used
   * before, issued to another client, or for another resource than the request names.
   */
  'assertion_malformed',
  'assertion_issuer_untrusted',
  'assertion_typ_invalid',
  'assertion_signature_invalid',
  'assertion_audience_invalid',
  'assertion_expired',
  'assertion_claims_invalid',
  'assertion_replayed',
  'assertion_client_mismatch',
  'assertion_resource_mismatch',
  'scope_wider_than_assertion',
  /** The declared policy has no rule that explicitly admits a visitor from another trust domain (`context.grant == "identity_chaining"`). */
  'visitor_not_admitted',
  'internal_error',
] as const;
export type TokenRequestReason = (typeof TOKEN_REQUEST_REASONS)[number];

/** A call a downstream API served (`api.call` at the API, through `@baton/downstream-verifier`). */
export type ApiCallReason = HttpStatusReason;

/** A request the audit console refused (its sign-in and session checks). */
export const CONSOLE_REASONS = [
  'request_malformed',
  'host_not_allowed',
  'origin_not_allowed',
  'origin_missing',
  'cross_site_request',
  'method_not_allowed',
  'session_missing',
  'session_unknown',
  'session_expired',
  'sign_in_state_missing',
  'sign_in_state_invalid',
  'state_mismatch',
  'provider_refused',
  'sign_in_failed',
  'access_token_invalid',
  'access_token_mismatch',
  'permission_missing',
  'tenant_missing',
  'provider_unavailable',
] as const;

/** Every reason code an audit event may carry. */
export type AuditReason =
  | (typeof BEARER_REFUSAL_REASONS)[number]
  | (typeof TOOL_REASONS)[number]
  | DownstreamCallReason
  | ApiCallReason
  | PlatformRevocationReason
  | TokenRequestReason
  | (typeof CONSOLE_REASONS)[number];

const KNOWN: ReadonlySet<string> = new Set<string>([
  ...BEARER_REFUSAL_REASONS,
  ...TOOL_REASONS,
  ...DOWNSTREAM_CALL_REASONS,
  ...HTTP_STATUSES.map((status) => `http_${status}`),
  'http_redirect',
  'http_client_error',
  'http_server_error',
  ...PLATFORM_REVOCATION_REASONS,
  ...TOKEN_REQUEST_REASONS,
  ...CONSOLE_REASONS,
]);

/** Every reason code, sorted: for readers that list or validate them. */
export const AUDIT_REASONS: readonly AuditReason[] = Object.freeze([...KNOWN].sort() as AuditReason[]);

/**
 * Whether `value` is one of the reason codes.
 *
 * @example
 * isAuditReason('tool_threw'); // true
 */
export function isAuditReason(value: unknown): value is AuditReason {
  return typeof value === 'string' && KNOWN.has(value);
}
