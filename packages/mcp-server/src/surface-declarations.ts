import { type CallerKind, challengeDescription } from '@baton/resource-server';
import type { AuthInfo, JSONRPCRequest } from '@modelcontextprotocol/server';
import { type CheckedDlpPolicy, checkedDlpPolicy, type DlpPolicy } from './dlp/policy.ts';
import { type BoundaryAccess, openedFrom } from './request-context.ts';
import { scopesCover } from './scopes.ts';
import { recordSurfaceStepUpDenial, type SurfaceItem } from './surface-audit.ts';

/**
 * What a tool, resource or prompt declares at registration, checked there (a bad declaration fails the
 * registration, not a call), and the SDK scope challenge built from it. One set for the three kinds.
 */

/** An item's declared DLP policy, checked at registration (`false` turns the boundary's default off). */
export function declaredDlp(
  registration: string,
  dlp: DlpPolicy | false | undefined,
): CheckedDlpPolicy | false | undefined {
  return dlp === undefined || dlp === false ? dlp : checkedDlpPolicy(dlp, registration);
}

/** Actor types as declared at registration, checked: `user` and/or `service`, default `['user']`. */
export function declaredActorTypes(registration: string, actorTypes: unknown): ReadonlySet<CallerKind> {
  const types = new Set<CallerKind>((actorTypes as CallerKind[] | undefined) ?? ['user']);
  if (types.size === 0 || [...types].some((type) => type !== 'user' && type !== 'service'))
    throw new TypeError(`${registration}: actorTypes must name user and/or service`);
  return types;
}

/**
 * The SDK v2 pre-dispatch scope challenge for an item: the scopes it declares when the caller of the
 * request in flight lacks them, audited as the boundary's own challenge is. SDK v1 ignores it (the
 * boundary's check before dispatch covers both).
 * @internal not exported from the package.
 */
export function scopeChallengeFor(access: BoundaryAccess, item: SurfaceItem, scopes: readonly string[]) {
  return async ({ request, authInfo }: { request: JSONRPCRequest; authInfo?: AuthInfo }) => {
    const opened = openedFrom(access, authInfo);
    if (!opened || scopesCover(opened.claims.scopes, scopes, opened.settings.scopes)) return undefined;
    const meta = (request.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    await recordSurfaceStepUpDenial(opened, item, meta);
    return {
      scopes: opened.settings.scopes.least(scopes) as [string, ...string[]],
      // The SDK writes this into the WWW-Authenticate challenge: RFC 6750 §3 characters only.
      errorDescription: challengeDescription(`${item.kind} ${item.name} requires more scope`),
    };
  };
}
