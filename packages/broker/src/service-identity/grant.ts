import type { AudienceConfig } from '../audience.ts';
import { type AuditedGrantDependencies, auditedGrant } from '../grants/audited-grant.ts';
import { GrantChecks } from '../grants/checks.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import { target } from '../grants/target.ts';
import type { PolicyEngine } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { senderConstraint } from '../sender-constraint/check.ts';
import { serviceIdentityLifetime } from './checks/lifetime.ts';
import { serviceIdentityPolicy } from './checks/policy.ts';
import { serviceNotRevoked } from './checks/revocation.ts';
import { approvedScopes, requestedScopes } from './checks/scope.ts';
import { serviceIdentityIssuer } from './issuer.ts';

/** Request parameters of `client_credentials` at the broker: one audience (RFC 8707), optional scope. */
export const CLIENT_CREDENTIALS_PARAMETERS = ['resource', 'audience', 'scope'];
/** Accepted so that more than one audience is refused as `invalid_target` by the grant, not as a duplicate. */
export const CLIENT_CREDENTIALS_DUPLICATES = ['resource', 'audience'];

export interface ServiceIdentityDependencies extends AuditedGrantDependencies {
  audiences: readonly AudienceConfig[];
  policy: PolicyEngine;
  registry: TokenRegistry;
  /** Upper bound on any issued token's lifetime, seconds. */
  maxLifetimeSeconds: number;
}

/**
 * `client_credentials` (RFC 6749 §4.4): a service's token as itself, the "service identity" mode. It
 * replaces oidc-provider's handler so that it is decided like an exchange: declared policy (mode
 * `service_identity`, principal the client, resource the audience, `context.subject_type` "service"),
 * one audit event per request, and a record in the token registry, so the token is introspectable by
 * its client, revocable (RFC 7009) and its revocation cascades to every token exchanged from it.
 *
 * oidc-provider has already authenticated the client and checked that `client_credentials` is one of
 * its grant types, which only the operator can approve (see `registration/approvals.ts`).
 *
 * Scope = requested ∩ the client's approved scopes (its registered `scope` metadata; none when it has
 * none) ∩ the audience's scopes ∩ what the policy permits. Asking for a scope the client is not
 * approved for is refused (`invalid_scope`), as is a request the policy permits no scope of.
 */
export function serviceIdentityHandler(deps: ServiceIdentityDependencies) {
  const checks = GrantChecks.start<GrantRequest>()
    .check(serviceNotRevoked(deps.registry))
    .check(senderConstraint)
    .check(target(deps.audiences))
    .check(requestedScopes)
    .check(approvedScopes)
    .check(serviceIdentityPolicy(deps.policy))
    .check(serviceIdentityLifetime(deps.maxLifetimeSeconds));
  return auditedGrant(deps, {
    checks,
    issue: serviceIdentityIssuer(deps.registry, deps.issuer),
    describe: (known) => ({
      initiator: { sub: known.clientId, tenant: null },
      agent: known.clientId,
      audience: known.audience?.resource,
      mode: 'service_identity',
      chain: [known.clientId],
      requested: known.requested,
      workload: known.workload,
    }),
  });
}
