import { createHash } from 'node:crypto';
import {
  type DetailedError,
  type PolicyJson,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import { POLICY_SCHEMA } from './request-model.ts';
import { personActingModesForServiceSubjects } from './service-subjects.ts';

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
 * Parses, checks and validates the operator's policy text once, and hands it to cedar-wasm's
 * preparsed cache so that no decision re-parses it. Anything wrong is a `TypeError` naming the rule:
 * a broker must not start with a policy it cannot read.
 *
 * The set is given to Cedar keyed by each policy's `@id`, so Cedar's own diagnostics (which rules
 * determined a decision, which failed) already speak in the operator's names rather than `policy0`.
 */
export function compilePolicySet(text: string): CompiledPolicySet {
  const parts = policySetTextToParts(text);
  if (parts.type === 'failure') fail(`cannot parse the policy text: ${describeErrors(parts.errors, text)}`);
  if (parts.policy_templates.length > 0) {
    fail('policy templates (rules with ?principal or ?resource slots) are not supported');
  }

  const policies: Record<string, PolicyJson> = {};
  // Cedar gets each policy's own text, not its JSON form: JSON through JavaScript numbers would
  // silently round a Long literal above 2^53.
  const texts: Record<string, string> = {};
  const rules = new Map<string, RuleInfo>();
  for (const part of parts.policies) {
    const converted = policyToJson(part);
    if (converted.type === 'failure') fail(`cannot read a policy: ${describeErrors(converted.errors)}`);
    const rule = ruleInfo(converted.json, part);
    if (rules.has(rule.id)) fail(`two rules carry @id("${rule.id}"); each rule needs its own id`);
    rules.set(rule.id, rule);
    policies[rule.id] = converted.json;
    texts[rule.id] = part;
  }

  const validation = validate({
    schema: POLICY_SCHEMA,
    policies: { staticPolicies: texts },
    validationSettings: { mode: 'strict' },
  });
  if (validation.type === 'failure')
    fail(`cannot validate the policies: ${describeErrors(validation.errors)}`);
  if (validation.validationErrors.length > 0) {
    const messages = validation.validationErrors.map(
      ({ policyId, error }) => `rule "${policyId}": ${describeErrors([error])}`,
    );
    fail(`the policies do not match Baton's request model: ${messages.join('; ')}`);
  }

  // Content-addressed: building an engine twice from the same text reuses one cache slot instead of
  // growing cedar-wasm's cache, which has no way to evict.
  const preparsedId = `baton-policy:${createHash('sha256').update(JSON.stringify(texts)).digest('hex')}`;
  const preparsed = preparsePolicySet(preparsedId, { staticPolicies: texts });
  if (preparsed.type === 'failure') fail(`cannot load the policies: ${describeErrors(preparsed.errors)}`);

  return { preparsedId, rules, policies };
}

function ruleInfo(policy: PolicyJson, text: string): RuleInfo {
  const annotations = policy.annotations ?? {};
  const id = annotations.id;
  if (typeof id !== 'string' || id.trim() === '') {
    fail(
      `every rule needs an @id("…") annotation so denials can name it; this one has none: ${excerpt(text)}`,
    );
  }
  const rule: RuleInfo = {
    id,
    effect: policy.effect,
    serviceSubjectModes:
      policy.effect === 'permit' ? personActingModesForServiceSubjects(policy) : new Set<string>(),
  };
  for (const [name, field] of [
    ['lifetime', 'lifetimeSeconds'],
    ['max_depth', 'maxDepth'],
  ] as const) {
    if (!(name in annotations)) continue;
    const value = annotations[name];
    if (policy.effect !== 'permit') fail(`rule "${id}": @${name} only has a meaning on permit rules`);
    if (typeof value !== 'string' || !POSITIVE_INTEGER.test(value)) {
      fail(`rule "${id}": @${name} must be a positive whole number, as in @${name}("300")`);
    }
    rule[field] = Number(value);
  }
  return rule;
}

function fail(message: string): never {
  throw new TypeError(`createCedarPolicyEngine: ${message}`);
}

/** Cedar's messages, with line:column when the error points into `text`. */
export function describeErrors(errors: readonly DetailedError[], text?: string): string {
  return errors
    .map((error) => {
      const location = text === undefined ? undefined : error.sourceLocations?.[0];
      const where = location === undefined ? '' : ` (line ${lineAndColumn(text ?? '', location.start)})`;
      const help = error.help ? ` (${error.help})` : '';
      return `${error.message}${where}${help}`;
    })
    .join('; ');
}

/** Cedar's offsets count UTF-8 bytes, not UTF-16 code units. */
function lineAndColumn(text: string, byteOffset: number): string {
  const before = Buffer.from(text).subarray(0, byteOffset).toString().split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
