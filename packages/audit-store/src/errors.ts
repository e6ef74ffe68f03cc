import { type AuditStoreErrorCode, BatonError } from '@baton/core';

/**
 * Stable error codes (listed and explained in `@baton/core`). Callers branch on `code`, never on
 * `message` (messages name the operation and the position, never event contents or driver text that
 * could quote them).
 */
export type { AuditStoreErrorCode } from '@baton/core';

export class AuditStoreError extends BatonError<AuditStoreErrorCode> {
  override readonly name = 'AuditStoreError';
  /** For `ERR_AUDIT_LOG_TAMPERED`: the verification report of the log that was refused. */
  readonly report?: unknown;

  constructor(code: AuditStoreErrorCode, message: string, options?: { cause?: unknown; report?: unknown }) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.report !== undefined) this.report = options.report;
  }
}
