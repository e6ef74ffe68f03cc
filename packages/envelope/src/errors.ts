import { BatonError, type EnvelopeErrorCode } from '@baton/core';

/** Every reason an envelope can be refused, as a stable code (listed in `@baton/core`). */
export type { EnvelopeErrorCode } from '@baton/core';

/**
 * A refused or unbuildable envelope. `message` is safe to log and to show to the caller: it never
 * contains the envelope itself, a signature, or key material. Callers `switch (err.code)`.
 */
export class EnvelopeError extends BatonError<EnvelopeErrorCode> {
  override readonly name = 'EnvelopeError';

  constructor(code: EnvelopeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
