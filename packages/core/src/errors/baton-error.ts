import type { BatonFailureCode } from './codes.ts';
import type { RefusalCode } from './refusal-errors.ts';

/** Every code a `BatonError` can carry: Baton's own failures and the protocol refusals. */
export type BatonErrorCode = BatonFailureCode | RefusalCode;

export interface BatonErrorOptions {
  /**
   * What a person debugging needs and the caller must not see (rule ids, client ids, audiences, a
   * platform's words). Readable as `detail` for the component's own log; never serialised, never
   * in `message`, never on the wire. Never a token, an assertion or key material.
   */
  detail?: string | undefined;
  cause?: unknown;
}

/**
 * The base of every error a Baton package throws on purpose. `code` is stable and discriminates
 * (`switch (error.code)` narrows an `AnyBatonError`); `message` is the public `description`, safe to
 * log and, for a refusal, to send; `detail` is private.
 *
 * What is not a `BatonError`: caller misuse (bad options, a missing argument) is a plain `TypeError`
 * thrown when the object is built; an unexpected failure is whatever was thrown.
 *
 * @example
 * try { await vault.get(id); } catch (error) {
 *   if (isBatonError(error) && error.code === 'ERR_VAULT_TAMPERED') alarm(error.description);
 * }
 */
export class BatonError<C extends BatonErrorCode = BatonErrorCode> extends Error {
  override name = 'BatonError';
  readonly code: C;
  readonly #detail: string | undefined;

  constructor(code: C, description: string, options?: BatonErrorOptions) {
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.#detail = options?.detail;
  }

  /** The public description: what the caller (and, for a refusal, the client) may read. */
  get description(): string {
    return this.message;
  }

  /** The private detail, for the component's own log only. Not enumerable, not serialised. */
  get detail(): string | undefined {
    return this.#detail;
  }

  /**
   * Its own enumerable fields, name, code and description: never the detail, the private `reason` (a
   * refusal's, for logs and the audit event only), the cause or the stack.
   */
  toJSON(): { name: string; code: C; description: string } & Record<string, unknown> {
    const { reason: _reason, detail: _detail, ...fields } = this as Record<string, unknown>;
    return { ...fields, name: this.name, code: this.code, description: this.description };
  }
}
