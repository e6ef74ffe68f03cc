/**
 * What the broker knows about one token-exchange request when it asks the policy. Everything here is
 * already verified: the client authenticated, the subject token validated, the chain built.
 */
export interface ExchangeFacts {
  /** The authenticated client asking for the exchange: the next actor in the chain. */
  client: string;
  /** The person (or service) the subject token is for. */
  subject: { sub: string; tenant: string | null };
  /** The client the user's original token was issued to: the agent, innermost in `act`. */
  agent: string;
  /** The one audience (resource URI) the new token is for. */
  audience: string;
  /**
   * `on_behalf_of`: delegation, the new token names the actors in `act`;
   * `restricted_user`: impersonation-style, no `act` (the "restricted user token" mode);
   * `txn_token`: an Execution Identity Envelope issued as a Transaction Token.
   */
  mode: 'on_behalf_of' | 'restricted_user' | 'txn_token';
  /** Number of actors in the resulting chain (agent excluded): 1 for the first hop. */
  depth: number;
  /** Actor client ids, current (outermost) first, agent excluded. */
  chain: readonly string[];
  /** Requested scopes, already narrowed to what the subject token carries. */
  scopes: readonly string[];
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
 * - `evaluation_failed`: a rule or Cedar itself failed to evaluate, so the policy fails closed.
 */
export type PolicyRefusal = 'forbidden' | 'not_permitted' | 'depth_exceeded' | 'evaluation_failed';

/** Decides exchanges. Implementations must be deterministic and side-effect free. */
export interface PolicyEngine {
  decide(facts: ExchangeFacts): PolicyDecision;
}
