import type { TokenRequestReason } from '@baton/audit';
import { errors } from 'oidc-provider';

/**
 * A refused token request: the RFC error the client receives, whose description is generic and
 * public, a stable `reason` for the audit event, and a private `detail` (rule ids, client ids,
 * audiences, Cedar's words) for the broker's log only. The detail also rides on oidc-provider's
 * `error_detail`, which it never writes to a response.
 */
export class Refusal extends Error {
  override readonly name = 'Refusal';
  readonly reason: TokenRequestReason;
  readonly oauthError: Error;
  readonly detail: string | undefined;
  constructor(reason: TokenRequestReason, oauthError: Error, detail?: string) {
    super(oauthError.message);
    this.reason = reason;
    this.oauthError = oauthError;
    this.detail = detail;
  }
}

const withDetail = (detail: string | undefined) => (detail === undefined ? undefined : { detail });

/** One constructor per RFC 6749 §5.2 / RFC 8693 §2.2.2 / RFC 8707 error the grants answer with. */
export const refuse = {
  request: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal(reason, new errors.InvalidRequest(description, undefined, withDetail(detail)), detail),
  target: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal(reason, new errors.InvalidTarget(description, withDetail(detail)), detail),
  scope: (reason: TokenRequestReason, description: string, scope: string, detail?: string) =>
    new Refusal(reason, new errors.InvalidScope(description, scope, withDetail(detail)), detail),
  unavailable: (reason: TokenRequestReason, description: string, detail?: string) =>
    new Refusal(reason, new errors.InvalidRequest(description, 503, withDetail(detail)), detail),
};
