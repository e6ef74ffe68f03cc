import { authorize } from '@baton/policy';
import { composeDecision, type ScopeAnswer } from './compose-decision.ts';
import { contextAttributesRead } from './context-usage.ts';
import type { ExchangeFacts, PolicyEngine } from './facts.ts';
import { BoundedMemo, memoKeyFor } from './memo.ts';
import { type CompiledPolicySet, compilePolicySet } from './policy-set.ts';
import {
  AUDIENCE_TYPE,
  CLIENT_TYPE,
  type ContextAttribute,
  EXCHANGE_ACTION,
  exchangeContext,
} from './request-model.ts';

export interface CedarPolicyEngineOptions {
  /** Cedar policy text (the operator's reviewable file). Every policy must carry an @id("...") annotation. */
  policies: string;
  /** Used when no permitting rule sets @lifetime / @max_depth. */
  defaults: { lifetimeSeconds: number; maxDepth: number };
  /**
   * How many per-scope Cedar answers to remember; 0 turns the memo off. Default 10,000. Entries are
   * small (a key of the facts rules can read, and a few rule ids), so the default costs a few MB.
   */
  memoSize?: number;
}

const DEFAULT_MEMO_SIZE = 10_000;

/**
 * A `PolicyEngine` that decides exchanges with the operator's Cedar policies.
 *
 * The request is principal `Baton::Client::"<client>"`, action `Baton::Action::"exchange"`, resource
 * `Baton::Audience::"<audience>"`, and a context of `mode`, `subject_type`, `depth`, `scope`,
 * `subject`, `tenant`, `agent`, `chain`, `grant` and `assertion_issuer` (see `request-model.ts`); a
 * visitor from another trust domain counts only under rules that require `context.grant ==
 * "identity_chaining"`. Cedar is asked once per requested scope, with that one
 * scope in the context, so a rule grants scopes by naming them and the token carries exactly the
 * requested scopes some rule permits. `@lifetime("300")` and `@max_depth("3")` on permit rules bound
 * the token; the smallest among the rules that permitted wins.
 *
 * Policies are parsed, validated and preparsed into cedar-wasm once, here; a decision is then one
 * `statefulIsAuthorized` call per scope not already in the memo.
 *
 * @example
 * const engine = createCedarPolicyEngine({
 *   policies: readFileSync('policy.cedar', 'utf8'),
 *   defaults: { lifetimeSeconds: 300, maxDepth: 3 },
 * });
 * const decision = engine.decide(facts);
 * if (!decision.allowed) refuse(decision.reasons);
 */
export function createCedarPolicyEngine(options: CedarPolicyEngineOptions): PolicyEngine {
  if (typeof options?.policies !== 'string') {
    throw new TypeError('createCedarPolicyEngine: policies must be the Cedar policy text');
  }
  const { lifetimeSeconds, maxDepth } = options.defaults ?? {};
  if (!Number.isSafeInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new TypeError('createCedarPolicyEngine: defaults.lifetimeSeconds must be a positive integer');
  }
  if (!Number.isSafeInteger(maxDepth) || maxDepth <= 0) {
    throw new TypeError('createCedarPolicyEngine: defaults.maxDepth must be a positive integer');
  }
  const memoSize = options.memoSize ?? DEFAULT_MEMO_SIZE;
  if (!Number.isSafeInteger(memoSize) || memoSize < 0) {
    throw new TypeError('createCedarPolicyEngine: memoSize must be a non-negative integer');
  }

  const compiled = compilePolicySet(options.policies);
  const defaults = { lifetimeSeconds, maxDepth };
  const memo = new BoundedMemo<ScopeAnswer>(memoSize);
  // Memo keys and the context Cedar is sent hold the same facts: the ones some rule can read.
  const read = contextAttributesRead(Object.values(compiled.policies));
  const memoKey = memoKeyFor(read);

  const ask = (facts: ExchangeFacts, scope: string): ScopeAnswer => {
    const key = memoSize === 0 ? undefined : memoKey(facts, scope);
    const known = key === undefined ? undefined : memo.get(key);
    if (known !== undefined) return known;
    const answer = evaluate(compiled, read, facts, scope);
    // Not remembered when Cedar itself failed: a throw from wasm says nothing lasting about these facts.
    if (key !== undefined && !answer.cedarFailed) memo.set(key, answer);
    return answer;
  };

  return {
    decide(facts: ExchangeFacts) {
      const scopes = [...new Set(facts.scopes)];
      // No scopes requested: still one question, so a scopeless token is permitted or refused too.
      const answers = (scopes.length > 0 ? scopes : ['']).map((scope) => ask(facts, scope));
      return composeDecision(facts, scopes, answers, compiled.rules, defaults);
    },
  };
}

/** One trip into wasm (through `@baton/policy`). Anything short of a clean answer is a refusal that says why. */
function evaluate(
  compiled: CompiledPolicySet,
  read: readonly ContextAttribute[],
  facts: ExchangeFacts,
  scope: string,
): ScopeAnswer & { cedarFailed: boolean } {
  const answer = authorize(compiled, {
    principal: { type: CLIENT_TYPE, id: facts.client },
    action: EXCHANGE_ACTION,
    resource: { type: AUDIENCE_TYPE, id: facts.audience },
    context: exchangeContext(facts, scope, read) as Record<string, unknown>,
  });
  const { allowed, determining, errors, threw } = answer;
  return Object.freeze({ allowed, determining, errors, cedarFailed: threw });
}
