import type { Check } from '../../grants/checks.ts';
import { batonMetadataOf, type GrantRequest } from '../../grants/grant-request.ts';
import { scopesOf, single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';

/** What the requested-scope step adds. */
export interface RequestedScopes {
  /** The client's approved scopes: its registered `scope` metadata (none when it has none). */
  readonly approved: readonly string[];
  /** `scope` as asked, or (none asked) the approved scopes the audience understands. */
  readonly requested: readonly string[];
}

/** The scopes asked for (audited as asked, even when the approval check then refuses them). */
export const requestedScopes: Check<GrantRequest & Target, RequestedScopes> = ({
  client,
  params,
  audience,
}) => {
  const approved = scopesOf(batonMetadataOf(client).scope);
  const requestedParam = single(params.scope);
  return {
    approved,
    requested: requestedParam
      ? scopesOf(requestedParam)
      : approved.filter((scope) => audience.scopes.includes(scope)),
  };
};

/** What the approval check adds. */
export interface UnderstoodScopes {
  /** The requested scopes the audience understands: what policy is asked about. */
  readonly understood: readonly string[];
}

/** Check: no scope the client is not approved for (`invalid_scope`). */
export const approvedScopes: Check<GrantRequest & Target & RequestedScopes, UnderstoodScopes> = ({
  approved,
  requested,
  audience,
}) => {
  const unapproved = requested.filter((scope) => !approved.includes(scope));
  if (unapproved.length > 0) {
    throw refuse.scope(
      'scope_not_approved',
      'requested scope is not approved for this client',
      unapproved.join(' '),
    );
  }
  return { understood: requested.filter((scope) => audience.scopes.includes(scope)) };
};
