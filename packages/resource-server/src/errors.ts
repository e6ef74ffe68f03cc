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
  | 'revocation_status_unknown';

/** RFC 6750 §3.1 error codes, plus `temporarily_unavailable` for a dependency that is down. */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
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

  constructor(
    init: {
      error: BearerErrorCode | undefined;
      status: 400 | 401 | 403 | 503;
      reason: RefusalReason;
      description: string;
      requiredScopes?: readonly string[];
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
