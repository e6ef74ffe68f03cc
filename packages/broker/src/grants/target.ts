import type { AudienceConfig } from '../audience.ts';
import type { Check } from './checks.ts';
import type { GrantRequest } from './grant-request.ts';
import { requestedAudience } from './parameters.ts';

/** What the target check adds: the one audience the token is for. */
export interface Target {
  readonly audience: AudienceConfig;
}

/**
 * Check: exactly one `resource` (RFC 8707) or `audience` (RFC 8693), one the broker issues tokens for
 * (`invalid_target` otherwise). Shared by both grants.
 */
export function target(audiences: readonly AudienceConfig[]): Check<GrantRequest, Target> {
  return ({ params }) => ({ audience: requestedAudience(params, audiences) });
}
