import type { DelegationMode } from '@baton/core';

/**
 * The kind of token a request asks for: an access token (RFC 9068), or a Transaction Token carrying
 * the Execution Identity Envelope (`requested_token_type=urn:ietf:params:oauth:token-type:txn_token`).
 * A kind, not a delegation mode: a Txn-Token carries the mode of the calls it is for
 * (`service_identity`: the service calls as itself and presents it beside its own token).
 */
export type IssuedTokenKind = 'access_token' | 'txn_token';

/**
 * What a declared policy reads as `context.mode`: the delegation mode, or `txn_token` for a
 * Transaction Token request. Policies have always named Txn-Token requests so; the name is kept so
 * every written policy means what it did (see {@link policyModeOf}).
 */
export type PolicyMode = DelegationMode | 'txn_token';

/** @deprecated The policy's name for a request's mode: use {@link PolicyMode}, and `ExchangeFacts.tokenKind`. */
export type IssuanceMode = PolicyMode;

/**
 * The mode a policy sees for these facts: `txn_token` for a Transaction Token request, otherwise the
 * delegation mode.
 *
 * @example
 * policyModeOf({ mode: 'service_identity', tokenKind: 'txn_token' }); // 'txn_token'
 */
export function policyModeOf(facts: { mode: PolicyMode; tokenKind?: IssuedTokenKind }): PolicyMode {
  return facts.tokenKind === 'txn_token' ? 'txn_token' : facts.mode;
}

/**
 * The grant a token request came by, as a policy reads it (`context.grant`): a token exchange
 * (RFC 8693, Transaction Tokens included), a service's own `client_credentials` request, an ID-JAG
 * redeemed from a trusted identity provider, or a JWT authorization grant a trusted home broker issued
 * for a visitor from another trust domain (`identity_chaining`).
 */
export type GrantKind = 'token_exchange' | 'client_credentials' | 'id_jag' | 'identity_chaining';

/**
 * What the broker knows about one token request when it asks the policy. Everything here is already
 * verified: the client authenticated, the subject token validated, the chain built.
 */
export interface ExchangeFacts {
  /** The authenticated client asking for the token: the next actor in the chain. */
  client: string;
  /** The person (or service) the subject token is for; the client itself for `service_identity`. */
  subject: { sub: string; tenant: string | null };
  /**
   * Whether a person stands behind the subject (`user`) or only a machine (`service`: an identity
   * provider's client-credentials token, a broker service-identity token, or anything derived from
   * one). Always `service` for `service_identity`.
   *
   * An engine must refuse the modes that act for a person (`on_behalf_of`, `restricted_user`,
   * `txn_token`) for a `service` subject unless its policy explicitly allows it: the Cedar engine
   * counts only permit rules whose `when` condition requires `context.subject_type == "service"`
   * and pins `context.mode` to the mode asked for, and refuses with `person_less_subject` otherwise.
   */
  subjectType: 'user' | 'service';
  /** The client the user's original token was issued to: the agent, innermost in `act`. */
  agent: string;
  /** The one audience (resource URI) the new token is for. */
  audience: string;
  /**
   * What is asked for, as a policy reads it (`context.mode`):
   * `on_behalf_of`: delegation, the new token names the actors in `act`;
   * `restricted_user`: impersonation-style, no `act` (the "restricted user token" mode);
   * `service_identity`: the client's own token (`client_credentials`), no subject token;
   * `txn_token`: a Transaction Token, which a service presents beside its own token, acting for the
   *   subject. Never `service_identity`: an engine that allows a service its own token must not
   *   thereby issue Transaction Tokens acting for people.
   */
  mode: PolicyMode;
  /** The kind of token asked for (`txn_token` exactly when `mode` is `txn_token`). */
  tokenKind: IssuedTokenKind;
  /** Number of actors in the resulting chain (agent excluded): 1 for the first hop, 0 for service identity. */
  depth: number;
  /** Actor client ids, current (outermost) first, agent excluded. */
  chain: readonly string[];
  /** Requested scopes, already narrowed to what the subject token carries. */
  scopes: readonly string[];
  /**
   * The grant the request came by (`context.grant`). Absent: `token_exchange`. `identity_chaining`
   * for any request whose subject is a visitor from another trust domain: on the hop that redeemed the
   * home broker's grant and on every later hop (exchanges of its token, Txn-Tokens, replacements).
   *
   * An engine must refuse an `identity_chaining` request (a visitor from another trust domain, whose
   * subject, tenant and actors its home broker asserted) unless a rule explicitly admits visitors:
   * the Cedar engine counts only permit rules whose `when` condition requires
   * `context.grant == "identity_chaining"`, and refuses with `visitor_not_admitted` otherwise, so a
   * rule written for this domain's own agents and tenants never admits a visitor by accident.
   */
  grant?: GrantKind;
  /** The issuer of the redeemed assertion (`context.assertion_issuer`): an ID-JAG's identity provider, a visitor's home broker (on every hop). */
  assertionIssuer?: string;
}

export interface PolicyDecision {
  allowed: boolean;
  /** The subset of `facts.scopes` the policy permits (empty when denied). */
  grantedScopes: string[];
  /** Lifetime of the issued token: the smallest `@lifetime` of the permitting rules, else the default. */
  lifetimeSeconds: number;
  /** The smallest `@max_depth` of the permitting rules, else the default. */
  maxDepth: number;
  /** When denied: the `@id`s of the rules that denied (forbid), or why nothing permitted. */
  reasons: string[];
  /**
   * When denied: what kind of refusal it is, for callers to act on. `reasons` are for people (they
   * quote operator-chosen rule ids and client ids), never to be pattern-matched. Absent when allowed.
   */
  refusal?: PolicyRefusal;
}

/**
 * Why a decision is a refusal:
 * - `forbidden`: a forbid rule matched (its `@id` is in `reasons`);
 * - `not_permitted`: no forbid matched, but no permit rule covered the request (or, with scopes
 *   requested, any of them);
 * - `depth_exceeded`: permitted, but the chain is deeper than the permitting rules' `@max_depth`;
 * - `evaluation_failed`: a rule or Cedar itself failed to evaluate, so the policy fails closed;
 * - `person_less_subject`: permitted, but only by rules that do not explicitly allow a subject with
 *   no person behind it (see `ExchangeFacts.subjectType`);
 * - `visitor_not_admitted`: permitted, but only by rules that do not explicitly admit a visitor from
 *   another trust domain (see `ExchangeFacts.grant`).
 */
export type PolicyRefusal =
  | 'forbidden'
  | 'not_permitted'
  | 'depth_exceeded'
  | 'evaluation_failed'
  | 'person_less_subject'
  | 'visitor_not_admitted';

/** Decides token requests. Implementations must be deterministic and side-effect free. */
export interface PolicyEngine {
  decide(facts: ExchangeFacts): PolicyDecision;
}
