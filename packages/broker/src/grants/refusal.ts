import type { TokenRequestReason } from '@baton/audit';
import { ProtocolRefusal, type RefusalCode, refusalAnswer } from '@baton/core';
import { errors } from 'oidc-provider';

/**
 * A refused token request: the RFC error the client receives, whose description is generic and
 * public, a stable `reason` for the audit event, and a private `detail` (rule ids, client ids,
 * audiences, Cedar's words) for the broker's log only. The detail never reaches oidc-provider.
 */
export class Refusal extends ProtocolRefusal<TokenRequestReason> {
  override readonly name = 'Refusal';
  /** For `invalid_scope`: the scope the client asked for, which the answer names (as oidc-provider does). */
  readonly scope: string | undefined;
  /** For `slow_down` (a rate limit): the answer's `Retry-After`, seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: RefusalCode,
    reason: TokenRequestReason,
    description: string,
    options?: { detail?: string | undefined; status?: number; scope?: string; retryAfterSeconds?: number },
  ) {
    super({ code, reason, description, ...options });
    this.scope = options?.scope;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }

  /** The error oidc-provider renders for this refusal, built from `refusalAnswer`: never the detail. */
  get oauthError(): Error {
    const { status, body } = refusalAnswer(this);
    const rendered = new errors.OIDCProviderError(status, body.error ?? 'invalid_request');
    rendered.error_description = body.error_description;
    // oidc-provider hides a 5xx's error unless told otherwise; a refusal's answer is always public.
    rendered.expose = true;
    if (this.scope !== undefined) Object.assign(rendered, { scope: this.scope });
    return rendered;
  }
}

/** One constructor per RFC 6749 §5.2 / RFC 8693 §2.2.2 / RFC 8707 error the grants answer with. */
export const refuse = {
  request: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal('invalid_request', reason, description, { detail }),
  grant: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal('invalid_grant', reason, description, { detail }),
  target: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal('invalid_target', reason, description, { detail }),
  scope: (reason: TokenRequestReason, description: string, scope: string, detail?: string) =>
    new Refusal('invalid_scope', reason, description, { detail, scope }),
  unavailable: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal('invalid_request', reason, description, { detail, status: 503 }),
  /** A rate limit reached: 429 `slow_down` with `Retry-After` (see `REFUSAL_ERRORS.slow_down`). */
  slowDown: (retryAfterSeconds: number, description: string, detail?: string) =>
    new Refusal('slow_down', 'rate_limited', description, { detail, retryAfterSeconds }),
};
