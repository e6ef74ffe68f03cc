import { createHash } from 'node:crypto';
import {
  type PolicyJson,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import { describeErrors } from './describe-errors.ts';

export interface CompileOptions {
  /** The Cedar schema (human-readable form) policies are validated against in strict mode. */
  schema: string;
  /** Names the component in every error, e.g. `createCedarPolicyEngine` or `IdentityBoundary: policy`. */
  owner: string;
  /**
   * Checks one rule's annotations besides `@id` (e.g. `@lifetime`, `@approval`); throws a
   * `TypeError` for a bad one (use the `fail` it is given, so the message names the owner).
   */
  checkRule?: (rule: CompiledRule, fail: (message: string) => never) => void;
}

/** One rule as written: its `@id`, effect, annotations and JSON form. */
export interface CompiledRule {
  id: string;
  effect: 'permit' | 'forbid';
  annotations: Readonly<Record<string, string | null>>;
  json: PolicyJson;
}

export interface CompiledPolicySet {
  /** The id the set is preparsed under in cedar-wasm's cache, for `statefulIsAuthorized`. */
  preparsedId: string;
  /** Keyed by `@id`, which is also the id Cedar reports in its diagnostics. */
  rules: ReadonlyMap<string, CompiledRule>;
}

/**
 * Parses, checks and validates an operator's policy text once, and hands it to cedar-wasm's preparsed
 * cache so that no decision re-parses it. Anything wrong is a `TypeError` naming the rule: a component
 * must not start with a policy it cannot read. Every rule needs `@id("…")` (so denials can name it),
 * templates are refused, and the set must validate against `schema` in strict mode, so a misspelt
 * attribute or a type mismatch fails at start instead of silently never matching.
 *
 * The set is given to Cedar keyed by each rule's `@id`, so Cedar's own diagnostics (which rules
 * determined a decision, which failed) already speak in the operator's names rather than `policy0`.
 *
 * @example
 * const compiled = compilePolicySet(readFileSync('policy.cedar', 'utf8'), { schema, owner: 'my-service' });
 * const answer = authorize(compiled, { principal, action, resource, context });
 */
export function compilePolicySet(text: string, options: CompileOptions): CompiledPolicySet {
  const fail: (message: string) => never = (message) => {
    throw new TypeError(`${options.owner}: ${message}`);
  };
  if (typeof text !== 'string') fail('policies must be the Cedar policy text');
  const parts = policySetTextToParts(text);
  if (parts.type === 'failure') fail(`cannot parse the policy text: ${describeErrors(parts.errors, text)}`);
  if (parts.policy_templates.length > 0) {
    fail('policy templates (rules with ?principal or ?resource slots) are not supported');
  }

  // Cedar gets each policy's own text, not its JSON form: JSON through JavaScript numbers would
  // silently round a Long literal above 2^53.
  const texts: Record<string, string> = {};
  const rules = new Map<string, CompiledRule>();
  for (const part of parts.policies) {
    const converted = policyToJson(part);
    if (converted.type === 'failure') fail(`cannot read a policy: ${describeErrors(converted.errors)}`);
    const annotations = converted.json.annotations ?? {};
    const id = annotations.id;
    if (typeof id !== 'string' || id.trim() === '') {
      fail(
        `every rule needs an @id("…") annotation so denials can name it; this one has none: ${excerpt(part)}`,
      );
    }
    if (rules.has(id)) fail(`two rules carry @id("${id}"); each rule needs its own id`);
    const rule: CompiledRule = { id, effect: converted.json.effect, annotations, json: converted.json };
    options.checkRule?.(rule, fail);
    rules.set(id, rule);
    texts[id] = part;
  }

  const validation = validate({
    schema: options.schema,
    policies: { staticPolicies: texts },
    validationSettings: { mode: 'strict' },
  });
  if (validation.type === 'failure')
    fail(`cannot validate the policies: ${describeErrors(validation.errors)}`);
  else if (validation.validationErrors.length > 0) {
    const messages = validation.validationErrors.map(
      ({ policyId, error }) => `rule "${policyId}": ${describeErrors([error])}`,
    );
    fail(`the policies do not match Baton's request model: ${messages.join('; ')}`);
  } else {
    // A rule Cedar proves can never apply (it tests for an attribute the schema does not have, say) is
    // a mistake, not a rule: refused like a type error.
    const impossible = validation.validationWarnings.filter(({ error }) => /impossible/i.test(error.message));
    if (impossible.length > 0) {
      const messages = impossible.map(
        ({ policyId, error }) => `rule "${policyId}": ${describeErrors([error])}`,
      );
      fail(`the policies do not match Baton's request model: ${messages.join('; ')}`);
    }
  }

  // Content-addressed: building twice from the same text and schema reuses one cache slot instead
  // of growing cedar-wasm's cache, which has no way to evict.
  const preparsedId = `baton-policy:${createHash('sha256').update(JSON.stringify(texts)).digest('hex')}`;
  const preparsed = preparsePolicySet(preparsedId, { staticPolicies: texts });
  if (preparsed.type === 'failure') fail(`cannot load the policies: ${describeErrors(preparsed.errors)}`);

  return { preparsedId, rules };
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}
