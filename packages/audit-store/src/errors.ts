/**
 * Stable error codes. Callers branch on `code`, never on `message` (messages name the operation and
 * the position, never event contents or driver text that could quote them).
 */
export type AuditStoreErrorCode =
  /** PostgreSQL could not take the event. It is already durable in the local outbox and will be drained. */
  | 'ERR_AUDIT_STORE_UNAVAILABLE'
  /** The local file (log or outbox) could not make the event durable; the store refuses further writes. */
  | 'ERR_AUDIT_STORE_WRITE_FAILED'
  /** `write` after `close`. */
  | 'ERR_AUDIT_STORE_CLOSED'
  /** Another live process (or another store in this one) holds this writer's files. */
  | 'ERR_AUDIT_STORE_LOCKED'
  /** On open, the existing log did not verify: the error's `report` says where. */
  | 'ERR_AUDIT_LOG_TAMPERED'
  /** PostgreSQL already holds a different chain for this writer (two processes, or a lost outbox). */
  | 'ERR_AUDIT_STORE_WRITER_CONFLICT'
  /**
   * PostgreSQL refused a batch of outbox records for a reason no retry can fix (SQLSTATE class 22 data
   * exception, 23 integrity violation, 54 program limit exceeded). Draining stops until an operator
   * intervenes; the records stay in the outbox.
   */
  | 'ERR_AUDIT_STORE_REJECTED'
  /** The event cannot be stored as given (not an audit event shape, or a string PostgreSQL cannot hold). */
  | 'ERR_AUDIT_EVENT_INVALID'
  /**
   * A directory or file of the store is owned by another account, or is not a directory / regular file:
   * its owner could open it to others at any time, so the store does not use it.
   */
  | 'ERR_AUDIT_STORE_INSECURE';

export class AuditStoreError extends Error {
  readonly code: AuditStoreErrorCode;
  /** For `ERR_AUDIT_LOG_TAMPERED`: the verification report of the log that was refused. */
  readonly report?: unknown;

  constructor(code: AuditStoreErrorCode, message: string, options?: { cause?: unknown; report?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AuditStoreError';
    this.code = code;
    if (options?.report !== undefined) this.report = options.report;
  }
}
