import { BatonError, type BatonErrorOptions } from '@baton/core';

/** The error codes of RFC 8935 §2.4 (push) and RFC 8936 §2.4.4 (poll `setErrs`) a receiver answers with. */
export type SetErrorCode =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'access_denied';

/** Why a SET was refused: stable, private (logs and audit), never on the wire. */
export type SetRefusalReason =
  | 'malformed'
  | 'typ_invalid'
  | 'alg_not_allowed'
  | 'key_unknown'
  | 'signature_invalid'
  | 'issuer_invalid'
  | 'audience_invalid'
  | 'iat_invalid'
  | 'iat_in_future'
  | 'too_old'
  | 'jti_missing'
  | 'jti_replayed'
  | 'replay_guard_full'
  | 'events_invalid'
  | 'event_unsupported'
  | 'subject_invalid'
  | 'content_type_invalid'
  | 'body_too_large'
  | 'authorization_failed';

/**
 * A refused Security Event Token: `err` is the RFC 8935 §2.4 code the transmitter is told, `message`
 * (`description`) the public description, `reason` and `detail` private. Never carries the SET.
 *
 * @example
 * try { await verifySecurityEventToken(jwt, options); } catch (error) {
 *   if (error instanceof SetRefused) return Response.json(setErrorOf(error), { status: 400 });
 * }
 */
export class SetRefused extends BatonError<'ERR_SET_REFUSED'> {
  override name = 'SetRefused';
  readonly err: SetErrorCode;
  readonly reason: SetRefusalReason;

  constructor(err: SetErrorCode, reason: SetRefusalReason, description: string, options?: BatonErrorOptions) {
    super('ERR_SET_REFUSED', description, options);
    this.err = err;
    this.reason = reason;
  }
}

/** The RFC 8935 §2.3 error body (and an RFC 8936 `setErrs` entry) of a refusal. */
/**
 * Refusals that say nothing against the SET: this receiver cannot take it now (its replay guard is
 * full, its clock is behind the transmitter's, it was away longer than `maxAgeSeconds`). Never
 * reported to the transmitter as the SET's error (which would delete it for good): the SET comes
 * again, and the feed is stale meanwhile.
 */
const RECEIVER_CONDITIONS: ReadonlySet<SetRefusalReason> = new Set([
  'replay_guard_full',
  'iat_in_future',
  'too_old',
]);

/** Whether a refusal is this receiver's condition rather than the SET's fault (see `RECEIVER_CONDITIONS`). */
export function isReceiverCondition(error: SetRefused): boolean {
  return RECEIVER_CONDITIONS.has(error.reason);
}

export function setErrorOf(error: SetRefused): { err: SetErrorCode; description: string } {
  return { err: error.err, description: error.description };
}
