import { compilePolicySet as compileCedar } from '@baton/policy';
import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { POLICY_SCHEMA } from './request-model.ts';
import { admitsVisitors, personActingModesForServiceSubjects } from './service-subjects.ts';

/** What the engine needs to know about one rule beyond what Cedar evaluates. */
export interface RuleInfo {
  id: string;
  effect: 'permit' | 'forbid';
  /** `@lifetime("…")` in seconds, on permit rules only. */
  lifetimeSeconds?: number;
  /** `@max_depth("…")`, on permit rules only. */
  maxDepth?: number;
  /**
   * The person-acting modes in which this permit lets a subject with no person behind it through: its
   * condition requires `context.subject_type == "service"` and pins `context.mode` to them (see
   * `personActingModesForServiceSubjects`). Empty for every other rule.
   */
  serviceSubjectModes: ReadonlySet<string>;
  /**
   * Whether this permit admits a visitor from another trust domain: its condition requires
   * `context.grant == "identity_chaining"` (see `admitsVisitors`). False for every other rule.
   */
  admitsVisitors: boolean;
}

export interface CompiledPolicySet {
  /** The id the set is preparsed under in cedar-wasm's cache, for `statefulIsAuthorized`. */
  preparsedId: string;
  /** Keyed by `@id`, which is also the id Cedar reports in its diagnostics. */
  rules: ReadonlyMap<string, RuleInfo>;
  /** The policies' JSON form (for reading their structure), keyed by `@id`. */
  policies: Readonly<Record<string, PolicyJson>>;
}

const POSITIVE_INTEGER = /^[1-9][0-9]{0,8}$/;

/**
 * The broker's policy set: parsed, `@id`-checked, validated against the exchange request model and
 * preparsed by `@baton/policy` (the one Cedar loader Baton has), plus the broker's own annotations,
 * `@lifetime` and `@max_depth`. Anything wrong is a `TypeError` naming the rule: a broker must not
 * start with a policy it cannot read.
 */
export function compilePolicySet(text: string): CompiledPolicySet {
  const infos = new Map<string, RuleInfo>();
  const compiled = compileCedar(text, {
    schema: POLICY_SCHEMA,
    owner: 'createCedarPolicyEngine',
    checkRule(rule, fail) {
      const info: RuleInfo = {
        id: rule.id,
        effect: rule.effect,
        serviceSubjectModes:
          rule.effect === 'permit' ? personActingModesForServiceSubjects(rule.json) : new Set<string>(),
        admitsVisitors: rule.effect === 'permit' && admitsVisitors(rule.json),
      };
      for (const [name, field] of [
        ['lifetime', 'lifetimeSeconds'],
        ['max_depth', 'maxDepth'],
      ] as const) {
        if (!(name in rule.annotations)) continue;
        const value = rule.annotations[name];
        if (rule.effect !== 'permit') fail(`rule "${rule.id}": @${name} only has a meaning on permit rules`);
        if (typeof value !== 'string' || !POSITIVE_INTEGER.test(value)) {
          fail(`rule "${rule.id}": @${name} must be a positive whole number, as in @${name}("300")`);
        }
        info[field] = Number(value);
      }
      infos.set(rule.id, info);
    },
  });
  const policies: Record<string, PolicyJson> = {};
  for (const [id, rule] of compiled.rules) policies[id] = rule.json;
  return { preparsedId: compiled.preparsedId, rules: infos, policies };
}
