import type { AuditEvent } from '@baton/audit';

/**
 * Which events a reader may see: those of one tenant (`initiator.tenant`), or every tenant. Events
 * without a tenant belong to no tenant, so only an all-tenants reader sees them.
 */
export type TenantScope =
  | { readonly kind: 'tenant'; readonly tenant: string }
  | { readonly kind: 'all-tenants' };

export const ALL_TENANTS: TenantScope = { kind: 'all-tenants' };

export function inScope(scope: TenantScope, event: AuditEvent): boolean {
  return scope.kind === 'all-tenants' || event.initiator.tenant === scope.tenant;
}

/** Who is reading: the signed-in auditor, and the tenants they may see. */
export interface Viewer {
  sub: string;
  scope: TenantScope;
}
