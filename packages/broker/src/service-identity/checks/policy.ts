import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { decideOrRefuse } from '../../grants/policy-refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { PolicyDecision, PolicyEngine } from '../../policy/facts.ts';
import type { UnderstoodScopes } from './scope.ts';

/** What the policy check adds. */
export interface Decided {
  readonly decision: PolicyDecision;
  /** The scopes the issued token carries. */
  readonly granted: readonly string[];
}

/**
 * Check: the declared policy, as for an exchange: mode `service_identity`, principal the client,
 * resource the audience, `context.subject_type` "service", no chain.
 */
export function serviceIdentityPolicy(
  policy: PolicyEngine,
): Check<GrantRequest & Target & UnderstoodScopes, Decided> {
  return ({ clientId, audience, understood }) => {
    const decision = decideOrRefuse(
      policy,
      {
        client: clientId,
        subject: { sub: clientId, tenant: null },
        subjectType: 'service',
        agent: clientId,
        audience: audience.resource,
        mode: 'service_identity',
        tokenKind: 'access_token',
        depth: 0,
        chain: [],
        scopes: understood,
        grant: 'client_credentials',
      },
      audience,
    );
    return { decision, granted: decision.grantedScopes };
  };
}
