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
 * Check: the one audience of the token. An ID-JAG that names its `resource` (one URI, or several) is
 * for those only: the request's `resource` must be one of them (`invalid_target` otherwise), and names
 * which when there are several. Without one, and for a home broker's grant (which is for this
 * authorization server, the resource chosen here), the request's one `resource` or `audience`
 * (RFC 8707). Either way, one the broker issues tokens for.
 */
export function assertionTarget(
  audiences: readonly AudienceConfig[],
): Check<GrantRequest & Assertion, Target> {
  return ({ params, subject, kind }) => {
    const granted = kind === 'id_jag' ? resourcesOf(subject.claims.claims.resource) : [];
    if (granted.length > 0) {
      const named = [...list(params.resource), ...list(params.audience)];
      if (named.length > 1)
        throw refuse.target(
          'audience_count',
          'exactly one resource or audience is required: a token has one audience',
        );
      const resource = named.length
        ? granted.find((candidate) => sameResource(candidate, named[0]!))
        : granted.length === 1
          ? granted[0]
          : undefined;
      if (named.length && !resource)
        throw refuse.target(
          'assertion_resource_mismatch',
          'the request names another resource than the assertion',
        );
      if (!resource)
        throw refuse.target('audience_count', 'the assertion names several resources: the request names one');
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

/** An ID-JAG's `resource` claim (draft §3): one URI, or an array of them. */
function resourcesOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  return Array.isArray(claim) ? claim.filter((value): value is string => typeof value === 'string') : [];
}
