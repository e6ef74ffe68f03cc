/**
 * Every reason an envelope can be refused, as a stable code. Callers `switch (err.code)`;
 * messages may change, codes do not.
 */
export type EnvelopeErrorCode =
  | 'ERR_ENVELOPE_MALFORMED'
  | 'ERR_ENVELOPE_ALG_NOT_ALLOWED'
  | 'ERR_ENVELOPE_TYP_INVALID'
  | 'ERR_ENVELOPE_KEY_UNKNOWN'
  | 'ERR_ENVELOPE_SIGNATURE_INVALID'
  | 'ERR_ENVELOPE_ISSUER_INVALID'
  | 'ERR_ENVELOPE_TRUST_DOMAIN_INVALID'
  | 'ERR_ENVELOPE_EXPIRED'
  | 'ERR_ENVELOPE_NOT_YET_VALID'
  | 'ERR_ENVELOPE_LIFETIME_TOO_LONG'
  | 'ERR_ENVELOPE_CLAIMS_INVALID';

/**
 * A refused or unbuildable envelope. `message` is safe to log and to show to the caller: it never
 * contains the envelope itself, a signature, or key material.
 */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  readonly code: EnvelopeErrorCode;

  constructor(code: EnvelopeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
