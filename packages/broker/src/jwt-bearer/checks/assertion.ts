import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { RedeemedGrant } from '../../token-exchange/checks/policy.ts';
import type { Subject } from '../../token-exchange/checks/subject.ts';
import type { AssertionKind, AssertionVerifier } from '../assertion.ts';
import type { Visitor } from '../visitor.ts';

/** What the assertion check adds. */
export interface Assertion extends Subject, RedeemedGrant {
  /** Whose grant it is: an identity provider's ID-JAG, or a home broker's JWT authorization grant. */
  readonly kind: AssertionKind;
  /** For a home broker's grant: the visitor's home domain, whose identifiers are qualified here. */
  readonly visitor?: Visitor;
}

/**
 * Check (RFC 7523 §2.1, §3): exactly one `assertion`, verified as an ID-JAG or a home broker's grant.
 * The verified assertion stands where an exchange has its subject token, so the checks the two grants
 * share (scopes asked, principal, policy, lifetime) read it the same way.
 */
export function verifiedAssertion(verifier: AssertionVerifier): Check<GrantRequest, Assertion> {
  return async ({ params }) => {
    const assertion = single(params.assertion);
    if (!assertion)
      throw refuse.request('parameters_missing', 'assertion is required (RFC 7523 section 2.1)');
    const { kind, claims, home } = await verifier.verify(assertion);
    return {
      kind,
      subject: { claims, brokerIssued: false },
      // What the policy is told (`context.grant`, `context.assertion_issuer`): a visitor's request is
      // one only rules written for visitors admit.
      grant: kind === 'id_jag' ? 'id_jag' : 'identity_chaining',
      assertionIssuer: claims.issuer,
      ...(home ? { visitor: { home: home.issuer, tenants: home.tenants ?? [] } } : {}),
    };
  };
}

/**
 * Check (ID-JAG draft §4.4, and the same for a home broker's grant): the grant names the client that
 * authenticated (`client_id`). A grant stolen from its client is refused before its `jti` is spent.
 */
export const assertionClient: Check<GrantRequest & Assertion, object> = ({ subject, clientId }) => {
  if (subject.claims.clientId !== clientId)
    throw refuse.grant('assertion_client_mismatch', 'assertion was issued to another client');
  return {};
};

/**
 * Check (RFC 7523 §3 item 7, chaining draft §5.5): a grant is redeemed once. Its `jti` is recorded in
 * oidc-provider's replay store (the broker's adapter, shared by every instance) until it expires.
 */
export const assertionUsedOnce: Check<GrantRequest & Assertion, object> = async ({ subject, provider }) => {
  const { issuer, tokenId, expiresAt } = subject.claims;
  const unique = await provider.ReplayDetection.unique(issuer, tokenId!, expiresAt);
  if (!unique) throw refuse.grant('assertion_replayed', 'assertion has already been used');
  return {};
};
