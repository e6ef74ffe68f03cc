import { type ExchangeFacts, type PolicyDecision, type PolicyRefusal, policyModeOf } from './facts.ts';
import type { RuleInfo } from './policy-set.ts';

/** Cedar's answer to one question: "may these facts have this one scope?". */
export interface ScopeAnswer {
  /** Cedar allowed and nothing failed to evaluate. */
  readonly allowed: boolean;
  /** `@id`s Cedar reports as determining: the permits behind an allow, the forbids behind a deny. */
  readonly determining: readonly string[];
  /** Evaluation failures. Any one refuses the whole exchange. */
  readonly errors: readonly string[];
}

export interface DecisionDefaults {
  lifetimeSeconds: number;
  maxDepth: number;
}

/**
 * Turns per-scope answers into one decision. Refusals carry no scopes, zero lifetime and zero depth,
 * so a caller that forgot to check `allowed` still has nothing it could mint.
 *
 * Evaluation errors fail closed for the whole exchange, not just their scope: Cedar skips a rule that
 * errors, and a skipped forbid is a permission nobody granted. Which scopes that forbid would have
 * covered is unknowable, so no scope is granted.
 */
export function composeDecision(
  facts: ExchangeFacts,
  scopes: readonly string[],
  answers: readonly ScopeAnswer[],
  rules: ReadonlyMap<string, RuleInfo>,
  defaults: DecisionDefaults,
): PolicyDecision {
  const errors = unique(answers.flatMap((answer) => answer.errors));
  if (errors.length > 0) {
    return deny(
      'evaluation_failed',
      errors.map((error) => `refused (fail closed): ${error}`),
    );
  }

  const cedarAllowed = scopes.length === 0 ? answers[0]?.allowed === true : answers.some((a) => a.allowed);
  if (!cedarAllowed) return refusal(facts, scopes, answers, rules);
  // A visitor from another trust domain (its subject, tenant and actors asserted by its home broker),
  // on the hop that redeemed its grant or any later one: only rules that admit visitors explicitly
  // count (default deny), so a rule written for this domain's own agents and tenants never lets a home
  // broker's assertion satisfy it.
  const visitor = facts.grant === 'identity_chaining';
  const admitsVisitors = (rule: RuleInfo | undefined) => !visitor || rule?.admitsVisitors === true;
  const admitted = answers.map((answer) => ({
    ...answer,
    allowed: answer.allowed && answer.determining.some((id) => admitsVisitors(rules.get(id))),
  }));
  if (!(scopes.length === 0 ? admitted[0]?.allowed === true : admitted.some((a) => a.allowed))) {
    return deny('visitor_not_admitted', [
      `the subject is a visitor from another trust domain (${facts.assertionIssuer ?? 'unknown'}), and no permitting rule requires context.grant == "identity_chaining"`,
    ]);
  }
  // A subject with no person behind it, in a mode that acts for a person: only rules that say so
  // explicitly, for this mode, count (default deny), so neither a rule written for people nor one
  // written for a service acting as itself lets a machine pose as a person. For a person-less visitor,
  // one rule must do both: a rule for any visitor and a rule for this domain's own machines do not
  // add up to a rule for a visiting machine acting for a person.
  const personLess = actsForPersonLessSubject(facts);
  const counted = personLess
    ? answers.map((answer) => ({
        ...answer,
        allowed:
          answer.allowed &&
          answer.determining.some((id) => {
            const rule = rules.get(id);
            return admitsVisitors(rule) && rule?.serviceSubjectModes.has(policyModeOf(facts)) === true;
          }),
      }))
    : admitted;
  const granted = scopes.filter((_, index) => counted[index]?.allowed === true);
  const allowed = scopes.length === 0 ? counted[0]?.allowed === true : granted.length > 0;
  if (!allowed) {
    return deny('person_less_subject', [
      `the subject "${facts.subject.sub}" has no person behind it, and no permitting rule requires context.subject_type == "service" with context.mode pinned to ${policyModeOf(facts)}${visitor ? ' and context.grant == "identity_chaining"' : ''}`,
    ]);
  }

  const permits = unique(counted.flatMap((answer) => (answer.allowed ? answer.determining : [])))
    .map((id) => rules.get(id))
    .filter((rule) => rule?.effect === 'permit') as RuleInfo[];
  const lifetimeSeconds = smallest(permits.map((rule) => rule.lifetimeSeconds)) ?? defaults.lifetimeSeconds;
  const maxDepth = smallest(permits.map((rule) => rule.maxDepth)) ?? defaults.maxDepth;

  if (facts.depth > maxDepth) {
    const limiting = permits.filter((rule) => rule.maxDepth !== undefined && facts.depth > rule.maxDepth);
    return deny(
      'depth_exceeded',
      limiting.length === 0
        ? [`max_depth exceeded: depth ${facts.depth} exceeds the default max_depth ${maxDepth}`]
        : limiting.map(
            (rule) =>
              `max_depth exceeded: depth ${facts.depth} exceeds @max_depth ${rule.maxDepth} of rule "${rule.id}"`,
          ),
    );
  }
  return { allowed: true, grantedScopes: granted, lifetimeSeconds, maxDepth, reasons: [] };
}

/**
 * A refusal naming the forbids that matched, by `@id`, and a sentence for scopes that no rule permitted
 * at all. It is `forbidden` when any forbid matched, else `not_permitted`.
 */
function refusal(
  facts: ExchangeFacts,
  scopes: readonly string[],
  answers: readonly ScopeAnswer[],
  rules: ReadonlyMap<string, RuleInfo>,
): PolicyDecision {
  const forbids: string[] = [];
  const unpermitted: string[] = [];
  answers.forEach((answer, index) => {
    const matched = answer.determining.filter((id) => rules.get(id)?.effect === 'forbid');
    if (matched.length > 0) forbids.push(...matched);
    else if (index < scopes.length) unpermitted.push(scopes[index] as string);
  });
  const reasons = unique(forbids);
  const kind: PolicyRefusal = reasons.length > 0 ? 'forbidden' : 'not_permitted';
  if (reasons.length === 0 || unpermitted.length > 0) {
    const which =
      unpermitted.length === 0
        ? ''
        : ` with scope${unpermitted.length > 1 ? 's' : ''} ${unpermitted.map((scope) => `"${scope}"`).join(', ')}`;
    reasons.push(
      `no rule permits client "${facts.client}" to exchange for audience "${facts.audience}" in mode ${policyModeOf(facts)}${which}`,
    );
  }
  return deny(kind, reasons);
}

function actsForPersonLessSubject(facts: ExchangeFacts): boolean {
  return facts.subjectType === 'service' && policyModeOf(facts) !== 'service_identity';
}

function deny(kind: PolicyRefusal, reasons: string[]): PolicyDecision {
  return { allowed: false, grantedScopes: [], lifetimeSeconds: 0, maxDepth: 0, reasons, refusal: kind };
}

function smallest(values: readonly (number | undefined)[]): number | undefined {
  let result: number | undefined;
  for (const value of values)
    if (value !== undefined && (result === undefined || value < result)) result = value;
  return result;
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}
