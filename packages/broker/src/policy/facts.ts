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
}

/** Decides exchanges. Implementations must be deterministic and side-effect free. */
export interface PolicyEngine {
  decide(facts: ExchangeFacts): PolicyDecision;
}
