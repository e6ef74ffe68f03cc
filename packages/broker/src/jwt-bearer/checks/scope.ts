import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { RequestedScopes, UnderstoodScopes } from '../../token-exchange/checks/scope.ts';
import type { Assertion } from './assertion.ts';

/**
 * Check (RFC 6749 §3.3, ID-JAG draft §4.4): never wider than the assertion's `scope` (`invalid_scope`);
 * what policy is asked about is what the audience understands of it.
 */
export const assertionScopeNarrowing: Check<
  GrantRequest & Assertion & Target & RequestedScopes,
  UnderstoodScopes
> = ({ subject, audience, requested }) => {
  const granted = new Set(subject.claims.scopes);
  const wider = requested.filter((scope) => !granted.has(scope));
  if (wider.length > 0)
    throw refuse.scope(
      'scope_wider_than_assertion',
      'requested scope exceeds the assertion',
      wider.join(' '),
    );
  return { understood: requested.filter((scope) => audience.scopes.includes(scope)) };
};
