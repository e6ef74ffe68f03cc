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
  const { sid } = claims.claims;
  const names = [claims.subject, tenantOf(claims), typeof sid === 'string' ? sid : null];
  return homes.some((home) => names.some((name) => name?.startsWith(`${home}|`)));
}
