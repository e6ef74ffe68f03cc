import { BatonError, type BatonErrorOptions } from './baton-error.ts';
import { REFUSAL_ERRORS, type RefusalCode, type RefusalError } from './refusal-errors.ts';

export interface RefusalInit<R extends string = string> extends BatonErrorOptions {
  /** The RFC `error` (or `credentials_missing`, which sends none). */
  code: RefusalCode;
  /** The stable private reason, for logs and the audit event; never on the wire. */
  reason: R;
  /** The public `error_description`: no token, claim value, client id or rule id. */
  description: string;
  /** Default: the code's status in `REFUSAL_ERRORS`. A 4xx or 5xx. */
  status?: number;
}

/**
 * A protocol refusal: the RFC `error` (its `code`), the HTTP status, a public description, a private
 * stable `reason` and an optional private `detail`. `refusalAnswer` turns it into the response.
 * Each package's refusal (resource-server `BearerError`, broker `Refusal`, console `ConsoleRefusal`)
 * extends it.
 *
 * @example
 * throw new ProtocolRefusal({ code: 'invalid_target', reason: 'policy_denied', description: 'not for this audience', detail: ruleId });
 */
export class ProtocolRefusal<R extends string = string> extends BatonError<RefusalCode> {
  override name = 'ProtocolRefusal';
  /** The HTTP status the refusal is answered with. */
  readonly status: number;
  /** The RFC `error` sent on the wire; `undefined` for `credentials_missing` (RFC 6750 §3.1). */
  readonly error: RefusalError | undefined;
  readonly reason: R;

  constructor(init: RefusalInit<R>) {
    super(checked(init).code, init.description, init);
    this.status = init.status ?? REFUSAL_ERRORS[init.code].status;
    this.error = REFUSAL_ERRORS[init.code].error;
    this.reason = init.reason;
  }
}

/** Caller misuse is a `TypeError` at construction: an unknown code, a status that is not 4xx/5xx, no reason. */
function checked<I extends RefusalInit>(init: I): I {
  if (!Object.hasOwn(REFUSAL_ERRORS, init.code)) {
    throw new TypeError(`unknown refusal code: ${String(init.code)}`);
  }
  const status = init.status;
  if (status !== undefined && (!Number.isInteger(status) || status < 400 || status > 599)) {
    throw new TypeError('a refusal status must be an HTTP 4xx or 5xx status');
  }
  if (typeof init.reason !== 'string' || init.reason === '') throw new TypeError('a refusal needs a reason');
  if (typeof init.description !== 'string') throw new TypeError('a refusal needs a public description');
  return init;
}
