import { sameResource } from '@baton/resource-server';
import type { AudienceConfig } from '../audience.ts';
import { refuse } from './refusal.ts';

export type Parameters = Record<string, string | string[] | undefined>;

/** A parameter sent once (a repeated one is treated as absent, and refused where it is required). */
export function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === '' ? undefined : value;
}

export function list(value: string | string[] | undefined): string[] {
  if (value === undefined || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

/** Space-separated scopes, deduplicated, in the order asked. */
export function scopesOf(value: string | undefined): string[] {
  return value ? [...new Set(value.split(' ').filter(Boolean))] : [];
}

/**
 * The one audience of the token (RFC 8707 `resource`, or RFC 8693 `audience`), among those the
 * broker issues for: a token has exactly one.
 */
export function requestedAudience(params: Parameters, audiences: readonly AudienceConfig[]): AudienceConfig {
  const targets = [...list(params.resource), ...list(params.audience)];
  if (targets.length !== 1) {
    throw refuse.target(
      'audience_count',
      'exactly one resource or audience is required: a token has one audience',
    );
  }
  const audience = audiences.find((candidate) => sameResource(candidate.resource, targets[0]!));
  if (!audience) {
    throw refuse.target(
      'audience_unknown',
      'the requested audience is not one this broker issues tokens for',
    );
  }
  return audience;
}
