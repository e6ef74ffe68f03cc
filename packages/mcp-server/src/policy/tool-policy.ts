import type { Identity } from '@baton/core';
import { authorize, type CompiledPolicySet, compilePolicySet } from '@baton/policy';
import type { ToolAnnotations } from '@modelcontextprotocol/server';
import {
  CALL_TOOL_ACTION,
  checkInputAttributes,
  type InputAttributeType,
  PERSON_TYPE,
  SERVICE_TYPE,
  TOOL_TYPE,
  toolPolicySchema,
} from './request-model.ts';

export interface ToolPolicyOptions {
  /**
   * Cedar policy text (the operator's reviewable file). Every rule carries `@id("…")`; a permit rule
   * may carry `@approval("required")`, so that the calls it permits run only once the person approved
   * them (see `IdentityBoundaryOptions.approval`).
   */
  policies: string;
  /**
   * The tool input fields policies may read, with their Cedar types, e.g. `{ amount: 'Long' }`. A tool
   * passes a field to policy only when it also lists it in its `policyInput`. Default none.
   */
  inputAttributes?: Record<string, InputAttributeType>;
}

/** What policy decided for one call. `rules` are the `@id`s that decided it. */
export type ToolPolicyDecision =
  | { readonly effect: 'permit'; readonly rules: readonly string[] }
  | { readonly effect: 'approval'; readonly rules: readonly string[] }
  | {
      readonly effect: 'forbid';
      /** The forbid rules that matched; empty when no rule permitted (Cedar's default deny). */
      readonly rules: readonly string[];
      /** Evaluation failures (fail closed), for the log; never sent to the caller. */
      readonly errors: readonly string[];
    };

/** One call, as the boundary knows it. */
export interface ToolCallFacts {
  identity: Identity;
  tool: string;
  annotations: ToolAnnotations | undefined;
  /** The declared input fields, already checked against their types. */
  input: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The operator's tool policy, compiled once: parsed, `@id`-checked and validated against the tool
 * request model (`request-model.ts`) by `@baton/policy`, the loader the broker uses too. A policy that
 * reads an attribute Baton does not provide fails here, when the boundary is built.
 *
 * @example
 * const policy = new ToolPolicy({ policies: readFileSync('tools.cedar', 'utf8'), inputAttributes: { amount: 'Long' } });
 * policy.decide({ identity, tool: 'create_order', annotations, input: { amount: 5000 } }); // { effect: 'approval', rules: [...] }
 */
export class ToolPolicy {
  readonly inputAttributes: Readonly<Record<string, InputAttributeType>>;
  readonly #compiled: CompiledPolicySet;
  readonly #approvalRules: ReadonlySet<string>;

  constructor(options: ToolPolicyOptions) {
    if (typeof options?.policies !== 'string')
      throw new TypeError('IdentityBoundary: policy.policies must be the Cedar policy text');
    this.inputAttributes = checkInputAttributes(options.inputAttributes);
    const approvalRules = new Set<string>();
    this.#compiled = compilePolicySet(options.policies, {
      schema: toolPolicySchema(this.inputAttributes),
      owner: 'IdentityBoundary: policy',
      checkRule(rule, fail) {
        for (const name of Object.keys(rule.annotations)) {
          if (name !== 'id' && name !== 'approval')
            fail(`rule "${rule.id}": unknown annotation @${name} (tool policies know @id and @approval)`);
        }
        if (!('approval' in rule.annotations)) return;
        if (rule.effect !== 'permit') fail(`rule "${rule.id}": @approval only has a meaning on permit rules`);
        if (rule.annotations.approval !== 'required')
          fail(`rule "${rule.id}": @approval must be @approval("required")`);
        approvalRules.add(rule.id);
      },
    });
    this.#approvalRules = approvalRules;
  }

  /** Whether some rule asks for approval (`@approval("required")`). */
  get asksForApproval(): boolean {
    return this.#approvalRules.size > 0;
  }

  decide(facts: ToolCallFacts): ToolPolicyDecision {
    const { identity } = facts;
    const principalType = identity.actor.type === 'user' ? PERSON_TYPE : SERVICE_TYPE;
    const readOnly = facts.annotations?.readOnlyHint === true;
    const destructive = readOnly ? false : facts.annotations?.destructiveHint !== false;
    const answer = authorize(this.#compiled, {
      principal: { type: principalType, id: identity.actor.sub },
      action: CALL_TOOL_ACTION,
      resource: { type: TOOL_TYPE, id: facts.tool },
      context: {
        agent: identity.agent,
        chain: [...identity.delegation.chain],
        services: [...identity.delegation.services],
        scopes: [...identity.scopes],
        mode: identity.delegation.mode,
        input: { ...facts.input },
      },
      entities: [
        {
          uid: { type: principalType, id: identity.actor.sub },
          attrs: identity.actor.tenant === null ? {} : { tenant: identity.actor.tenant },
          parents: [],
        },
        {
          uid: { type: TOOL_TYPE, id: facts.tool },
          attrs: { read_only: readOnly, destructive },
          parents: [],
        },
      ],
    });
    if (!answer.allowed) {
      const forbids = answer.determining.filter((id) => this.#compiled.rules.get(id)?.effect === 'forbid');
      return Object.freeze({ effect: 'forbid', rules: Object.freeze(forbids), errors: answer.errors });
    }
    const approvals = answer.determining.filter((id) => this.#approvalRules.has(id));
    // Any permitting rule that asks for approval wins: a broader permit must not waive it.
    return approvals.length > 0
      ? Object.freeze({ effect: 'approval', rules: Object.freeze(approvals) })
      : Object.freeze({ effect: 'permit', rules: answer.determining });
  }
}
