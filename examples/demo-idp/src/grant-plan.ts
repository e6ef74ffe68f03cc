import type { UnknownObject } from 'oidc-provider';
import type { DemoUser } from './users.ts';

/** What the consent step will grant and refuse, computed once for both the consent page and the grant. */
export interface GrantPlan {
  /** OpenID scopes (`openid`, `profile`, …): identity only, always granted when requested. */
  oidcScopes: string[];
  /** Individual claims requested through the `claims` parameter. */
  oidcClaims: string[];
  resources: ResourceGrant[];
}

export interface ResourceGrant {
  resource: string;
  granted: string[];
  /** Requested but outside the user's `allowedScopes`: recorded as rejected so consent is not asked again. */
  rejected: string[];
}

/**
 * Turns the consent prompt's details into a plan. oidc-provider only lists, per resource, requested scopes
 * that the resource itself declares (requested ∩ resource scopes); intersecting with the user's
 * `allowedScopes` completes the rule "requested ∩ allowed ∩ resource". bob asking for `orders:write`
 * therefore gets `orders:read` only, and his token says so.
 */
export function planGrant(details: UnknownObject, user: DemoUser): GrantPlan {
  const allowed = new Set(user.allowedScopes);
  const missingResourceScopes = isRecord(details.missingResourceScopes) ? details.missingResourceScopes : {};
  return {
    oidcScopes: stringList(details.missingOIDCScope),
    oidcClaims: stringList(details.missingOIDCClaims),
    resources: Object.entries(missingResourceScopes).map(([resource, scopes]) => {
      const requested = stringList(scopes);
      return {
        resource,
        granted: requested.filter((scope) => allowed.has(scope)),
        rejected: requested.filter((scope) => !allowed.has(scope)),
      };
    }),
  };
}

/** The subset of oidc-provider's Grant the plan writes to. */
export interface GrantWriter {
  addOIDCScope(scope: string): unknown;
  addOIDCClaims(claims: string[]): unknown;
  addResourceScope(resource: string, scope: string): unknown;
  rejectResourceScope(resource: string, scope: string): unknown;
}

export function applyGrantPlan(grant: GrantWriter, plan: GrantPlan): void {
  if (plan.oidcScopes.length > 0) grant.addOIDCScope(plan.oidcScopes.join(' '));
  if (plan.oidcClaims.length > 0) grant.addOIDCClaims(plan.oidcClaims);
  for (const { resource, granted, rejected } of plan.resources) {
    if (granted.length > 0) grant.addResourceScope(resource, granted.join(' '));
    if (rejected.length > 0) grant.rejectResourceScope(resource, rejected.join(' '));
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
