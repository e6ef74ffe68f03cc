import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { scopesOf, single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { Subject } from './subject.ts';

/** What the requested-scope step adds. */
export interface RequestedScopes {
  /** `scope` as asked, or (none asked) every scope of the subject token. */
  readonly requested: readonly string[];
}

/** The scopes asked for (audited as asked, even when the narrowing check then refuses them). */
export const requestedScopes: Check<GrantRequest & Subject, RequestedScopes> = ({ params, subject }) => {
  const requestedParam = single(params.scope);
  return { requested: requestedParam ? scopesOf(requestedParam) : [...new Set(subject.claims.scopes)] };
};

/** What the scope-narrowing check adds. */
export interface UnderstoodScopes {
  /** The requested scopes the audience understands: what policy is asked about. */
  readonly understood: readonly string[];
}

/** Check, scope narrowing: never wider than the subject token, at any hop (`invalid_scope`). */
export const scopeNarrowing: Check<GrantRequest & Subject & Target & RequestedScopes, UnderstoodScopes> = ({
  subject,
  audience,
  requested,
}) => {
  const subjectScopes = new Set(subject.claims.scopes);
  const wider = requested.filter((scope) => !subjectScopes.has(scope));
  if (wider.length > 0) {
    throw refuse.scope(
      'scope_wider_than_subject',
      'requested scope exceeds the subject token',
      wider.join(' '),
    );
  }
  return { understood: requested.filter((scope) => audience.scopes.includes(scope)) };
};
