import { sameResource } from '@baton/resource-server';
import type { AudienceConfig } from '../../audience.ts';
import { audienceFor } from '../../audience.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { list, requestedAudience } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { Assertion } from './assertion.ts';

/**
 * Check: the one audience of the token. An ID-JAG that names its `resource` is for that resource only:
 * a request naming another is `invalid_target`; without one, and for a home broker's grant (which is
 * for this authorization server, the resource chosen here), the request's one `resource` or
 * `audience` (RFC 8707), among those the broker issues tokens for.
 */
export function assertionTarget(
  audiences: readonly AudienceConfig[],
): Check<GrantRequest & Assertion, Target> {
  return ({ params, subject, kind }) => {
    const resource = subject.claims.claims.resource;
    if (kind === 'id_jag' && typeof resource === 'string') {
      const named = [...list(params.resource), ...list(params.audience)];
      if (named.some((other) => !sameResource(other, resource)))
        throw refuse.target(
          'assertion_resource_mismatch',
          'the request names another resource than the assertion',
        );
      const audience = audienceFor(audiences, resource);
      if (!audience)
        throw refuse.target(
          'audience_unknown',
          'the requested audience is not one this broker issues tokens for',
        );
      return { audience };
    }
    return { audience: requestedAudience(params, audiences) };
  };
}
