import { BatonError, type ConnectorErrorCode } from '@baton/core';

/** Stable codes callers branch on (listed and explained in `@baton/core`). Messages may change; codes do not. */
export type { ConnectorErrorCode } from '@baton/core';

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
export class ConnectorError extends BatonError<ConnectorErrorCode> {
  override readonly name = 'ConnectorError';
  readonly connector: string;
  readonly status: number | undefined;
  readonly oauthError: string | undefined;
  readonly oauthErrorDescription: string | undefined;

  constructor(code: ConnectorErrorCode, message: string, details: ConnectorErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.connector = details.connector;
    this.status = details.status;
    this.oauthError = details.oauthError;
    this.oauthErrorDescription = details.oauthErrorDescription;
  }
}
