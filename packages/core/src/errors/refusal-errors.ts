/**
 * The one table of protocol refusals: every RFC `error` a Baton component answers with, its default
 * HTTP status, whether it is an RFC 6750 §3.1 `WWW-Authenticate` error, and where it is defined.
 * `credentials_missing` is Baton's name for the one refusal that carries no `error` on the wire:
 * a request without credentials gets a 401 challenge without an error code (RFC 6750 §3.1).
 */
export const REFUSAL_ERRORS = deepFreeze({
  invalid_request: {
    error: 'invalid_request',
    status: 400,
    bearer: true,
    spec: 'RFC 6749 §5.2, RFC 6750 §3.1',
  },
  invalid_client: { error: 'invalid_client', status: 401, bearer: false, spec: 'RFC 6749 §5.2' },
  invalid_grant: { error: 'invalid_grant', status: 400, bearer: false, spec: 'RFC 6749 §5.2' },
  unauthorized_client: { error: 'unauthorized_client', status: 400, bearer: false, spec: 'RFC 6749 §5.2' },
  unsupported_grant_type: {
    error: 'unsupported_grant_type',
    status: 400,
    bearer: false,
    spec: 'RFC 6749 §5.2',
  },
  invalid_scope: { error: 'invalid_scope', status: 400, bearer: false, spec: 'RFC 6749 §5.2' },
  invalid_target: {
    error: 'invalid_target',
    status: 400,
    bearer: false,
    spec: 'RFC 8707 §2, RFC 8693 §2.2.2',
  },
  invalid_client_metadata: {
    error: 'invalid_client_metadata',
    status: 400,
    bearer: false,
    spec: 'RFC 7591 §3.2.2',
  },
  invalid_redirect_uri: {
    error: 'invalid_redirect_uri',
    status: 400,
    bearer: false,
    spec: 'RFC 7591 §3.2.2',
  },
  invalid_dpop_proof: { error: 'invalid_dpop_proof', status: 400, bearer: false, spec: 'RFC 9449 §5, §7.1' },
  use_dpop_nonce: { error: 'use_dpop_nonce', status: 400, bearer: false, spec: 'RFC 9449 §8, §9' },
  invalid_token: { error: 'invalid_token', status: 401, bearer: true, spec: 'RFC 6750 §3.1' },
  insufficient_scope: { error: 'insufficient_scope', status: 403, bearer: true, spec: 'RFC 6750 §3.1' },
  access_denied: { error: 'access_denied', status: 403, bearer: false, spec: 'RFC 6749 §4.1.2.1' },
  login_required: {
    error: 'login_required',
    status: 401,
    bearer: false,
    spec: 'OpenID Connect Core §3.1.2.6',
  },
  method_not_allowed: { error: 'method_not_allowed', status: 405, bearer: false, spec: 'RFC 9110 §15.5.6' },
  temporarily_unavailable: {
    error: 'temporarily_unavailable',
    status: 503,
    bearer: false,
    spec: 'RFC 6749 §4.1.2.1',
  },
  server_error: { error: 'server_error', status: 500, bearer: false, spec: 'RFC 6749 §4.1.2.1' },
  /**
   * Too many token requests: RFC 6749 has no rate-limit error, so the broker answers 429 (RFC 6585 §4)
   * with `Retry-After`, and the one token-endpoint error registered for "you are asking too fast"
   * (RFC 8628 §3.5, registered for the token endpoint in §7.3).
   */
  slow_down: { error: 'slow_down', status: 429, bearer: false, spec: 'RFC 8628 §3.5, RFC 6585 §4' },
  credentials_missing: { error: undefined, status: 401, bearer: true, spec: 'RFC 6750 §3.1' },
} as const satisfies Record<
  string,
  { error: string | undefined; status: number; bearer: boolean; spec: string }
>);

/** The code of a protocol refusal: an RFC `error`, or `credentials_missing` (no `error` on the wire). */
export type RefusalCode = keyof typeof REFUSAL_ERRORS;

/** An RFC `error` a Baton refusal can put on the wire. */
export type RefusalError = NonNullable<(typeof REFUSAL_ERRORS)[RefusalCode]['error']>;

/** Whether `value` is a refusal code of the table. */
export function isRefusalCode(value: unknown): value is RefusalCode {
  return typeof value === 'string' && Object.hasOwn(REFUSAL_ERRORS, value);
}

/** The table and every entry frozen: no code can change another's status or error at run time. */
function deepFreeze<T extends Record<string, object>>(table: T): T {
  for (const entry of Object.values(table)) Object.freeze(entry);
  return Object.freeze(table);
}
