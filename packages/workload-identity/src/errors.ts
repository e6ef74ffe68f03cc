import { BatonError, type WorkloadIdentityErrorCode } from '@baton/core';

export type { WorkloadIdentityErrorCode } from '@baton/core';

/** Which rule of SPIFFE-ID §2 a string breaks: stable, for logs and tests. */
export type SpiffeIdInvalidReason =
  /** Not `spiffe://` (the scheme is matched exactly, lower case). */
  | 'scheme_invalid'
  /** Nothing between `spiffe://` and the path. */
  | 'trust_domain_missing'
  /** A trust domain character outside `[a-z0-9._-]` (so also upper case, `:port`, `user@`). */
  | 'trust_domain_invalid'
  /** A trust domain longer than 255 bytes (SPIFFE-ID §2.3). */
  | 'trust_domain_too_long'
  /** An empty path segment (`//`) or a trailing `/`. */
  | 'path_segment_empty'
  /** A path segment that is `.` or `..`. */
  | 'path_segment_dot'
  /** A path character outside `[a-zA-Z0-9._-]` (so also `%`-encoding, `?` and `#`). */
  | 'path_invalid'
  /** Longer than 2048 bytes (SPIFFE-ID §2.3). */
  | 'too_long';

/**
 * A string that is not a SPIFFE ID. `reason` names the rule; the message never quotes the input (it
 * may come from a peer's certificate).
 */
export class SpiffeIdError extends BatonError<WorkloadIdentityErrorCode> {
  override readonly name = 'SpiffeIdError';
  readonly reason: SpiffeIdInvalidReason;

  constructor(reason: SpiffeIdInvalidReason, message: string) {
    super('ERR_SPIFFE_ID_INVALID', message);
    this.reason = reason;
  }
}
