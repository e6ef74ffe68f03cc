/**
 * Stable codes callers branch on. Messages are for people and may change; codes do not.
 *
 * - `ERR_CONNECTOR_REFUSED`: the platform answered with an OAuth error (`oauthError` says which).
 * - `ERR_CONNECTOR_UNAVAILABLE`: the platform could not be reached, timed out, or answered 5xx/429.
 * - `ERR_CONNECTOR_IDENTITY_UNMAPPED`: the Baton user has no identity on the platform.
 * - `ERR_CONNECTOR_SUBJECT_TOKEN_MISSING`: an on-behalf-of request without the user's token.
 * - `ERR_CONNECTOR_BAD_RESPONSE`: the platform answered 2xx with something that is not a token response.
 */
export type ConnectorErrorCode =
  | 'ERR_CONNECTOR_REFUSED'
  | 'ERR_CONNECTOR_UNAVAILABLE'
  | 'ERR_CONNECTOR_IDENTITY_UNMAPPED'
  | 'ERR_CONNECTOR_SUBJECT_TOKEN_MISSING'
  | 'ERR_CONNECTOR_BAD_RESPONSE';

export interface ConnectorErrorDetails {
  /** The connector that failed, as in its `id`. */
  connector: string;
  /** HTTP status of the platform's answer, when there was one. */
  status?: number;
  /** RFC 6749 §5.2 `error` the platform sent (e.g. `invalid_grant`). */
  oauthError?: string;
  /** RFC 6749 §5.2 `error_description` the platform sent. */
  oauthErrorDescription?: string;
  cause?: unknown;
}

/**
 * Why a connector could not produce a platform token. It never carries a token or an assertion: not in
 * the message, not in a property, so logging the whole error is safe.
 */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  readonly code: ConnectorErrorCode;
  readonly connector: string;
  readonly status: number | undefined;
  readonly oauthError: string | undefined;
  readonly oauthErrorDescription: string | undefined;

  constructor(code: ConnectorErrorCode, message: string, details: ConnectorErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.connector = details.connector;
    this.status = details.status;
    this.oauthError = details.oauthError;
    this.oauthErrorDescription = details.oauthErrorDescription;
  }
}
