import { ProtocolRefusal, type RefusalError } from '@baton/core';

/**
 * Why the console refused a request: a closed list someone can enumerate, logged (and audited when
 * the person is known), never shown to the browser.
 */
export type ConsoleRefusalReason =
  | 'request_malformed'
  | 'host_not_allowed'
  | 'origin_not_allowed'
  | 'origin_missing'
  | 'cross_site_request'
  | 'method_not_allowed'
  | 'session_missing'
  | 'session_unknown'
  | 'session_expired'
  | 'sign_in_state_missing'
  | 'sign_in_state_invalid'
  | 'state_mismatch'
  | 'provider_refused'
  | 'sign_in_failed'
  | 'access_token_invalid'
  | 'access_token_mismatch'
  | 'permission_missing'
  | 'tenant_missing'
  | 'provider_unavailable';

/**
 * A `ProtocolRefusal` with its RFC error code (`error`), a public description (no token, claim value
 * or client id of anyone), and the private `reason`. `sub`/`tenant` name the person when sign-in got
 * that far. The answer's status and body come from `refusalAnswer`.
 */
export class ConsoleRefusal extends ProtocolRefusal<ConsoleRefusalReason> {
  override readonly name = 'ConsoleRefusal';
  declare readonly error: RefusalError;
  readonly sub: string | undefined;
  readonly tenant: string | null;

  constructor(
    status: number,
    error: RefusalError,
    description: string,
    reason: ConsoleRefusalReason,
    person?: { sub: string; tenant: string | null },
    /** Kept for debugging only: its text can hold a provider's response, so it is never logged. */
    cause?: unknown,
  ) {
    super({ code: error, status, reason, description, cause });
    this.sub = person?.sub;
    this.tenant = person?.tenant ?? null;
  }
}
