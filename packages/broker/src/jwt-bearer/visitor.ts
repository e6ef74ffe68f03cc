import { tenantOf, type ValidatedClaims } from '@baton/core';

/**
 * A visitor from another trust domain: the subject of a home broker's JWT authorization grant. Its
 * identities (`sub`, `tenant`, `sid`) are the home domain's, asserted by its broker, and mean nothing
 * here by themselves: `alice` or `acme` at home is not this domain's `alice` or `acme`. Each is
 * qualified by the home broker's issuer (`<home>|<id>`), so no home broker can name, by choosing
 * claims, a subject, tenant or session of this domain. A tenant the home domain is configured to
 * share (`homeDomains[].tenants`) is kept as is: the operator said the two domains mean the same one.
 */
export interface Visitor {
  /** The home broker's issuer. */
  readonly home: string;
  /** The home tenants this domain accepts as its own. */
  readonly tenants: readonly string[];
}

/** `<home>|<id>`: a home domain's identifier, as this domain names it. */
export function qualified(visitor: Visitor, id: string): string {
  return `${visitor.home}|${id}`;
}

/** A visitor's tenant: kept when the home domain shares it, otherwise qualified; none stays none. */
export function visitorTenant(visitor: Visitor, tenant: string | null): string | null {
  if (tenant === null) return null;
  return visitor.tenants.includes(tenant) ? tenant : qualified(visitor, tenant);
}

/**
 * Whether a token or assertion that is not a home broker's names its `sub`, tenant or `sid` as this
 * domain names a visitor of one of `homes` (`<home>|…`): a trusted identity provider could otherwise
 * assert `https://home.example|alice` and be that visitor here (policy, revocation, audit).
 */
export function namedAsVisitor(
  homes: readonly string[],
  claims: Pick<ValidatedClaims, 'subject' | 'claims'>,
): boolean {
  return homeNaming(homes, namesOf(claims)) !== undefined;
}

/**
 * The home domain of a visitor on a hop after the one that redeemed its grant (this broker's own token
 * or Txn-Token carries it onward), or `undefined` for anyone else. Only this broker names a visitor
 * `<home>|…` (`namedAsVisitor` refuses such names from anyone else) and marks its home actors with the
 * home issuer (`iss`), so these names tell a visitor from this domain's own people on every later hop.
 */
export function visitingHome(
  homes: readonly string[],
  names: readonly (string | null | undefined)[],
  actors: readonly { readonly iss?: string }[] = [],
): string | undefined {
  return homeNaming(homes, names) ?? homes.find((home) => actors.some((actor) => actor.iss === home));
}

/** A token's names this domain could give a visitor: `sub`, tenant and `sid`. */
export function namesOf(claims: Pick<ValidatedClaims, 'subject' | 'claims'>): (string | null)[] {
  const { sid } = claims.claims;
  return [claims.subject, tenantOf(claims), typeof sid === 'string' ? sid : null];
}

/** The home (of `homes`) whose visitor one of `names` is (`<home>|…`), if any. */
function homeNaming(
  homes: readonly string[],
  names: readonly (string | null | undefined)[],
): string | undefined {
  return homes.find((home) => names.some((name) => name?.startsWith(`${home}|`)));
}
