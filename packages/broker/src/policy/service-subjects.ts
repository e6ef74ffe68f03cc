import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

/** The modes in which a token acts for a person: a machine subject needs a rule that says so. */
export const PERSON_ACTING_MODES: ReadonlySet<string> = new Set([
  'on_behalf_of',
  'restricted_user',
  'txn_token',
]);

/**
 * The person-acting modes in which a rule explicitly lets a subject with no person behind it through:
 * its `when` clauses have, as top-level conjuncts, both `context.subject_type == "service"` and a test
 * that pins `context.mode` to literal modes (`context.mode == "on_behalf_of"`, or
 * `["on_behalf_of", "txn_token"].contains(context.mode)`); the answer is those modes. A rule that
 * requires a service subject but says nothing of the mode (written for service identity, say) opens
 * no person-acting mode by accident. Anything looser (`||`, `!=`, a mode read from elsewhere) does
 * not count: the default is to deny.
 */
export function personActingModesForServiceSubjects(policy: PolicyJson): ReadonlySet<string> {
  const conditions = (policy.conditions ?? []).filter((condition) => condition.kind === 'when');
  const tests = conditions.flatMap((condition) => conjuncts(condition.body));
  if (!tests.some(isServiceSubjectTest)) return new Set();
  const pinned = tests.map((test) => pinnedLiterals(test, 'mode')).filter((modes) => modes !== undefined);
  if (pinned.length === 0) return new Set();
  // Several pins all hold at once: the modes they have in common.
  const [first, ...rest] = pinned;
  return new Set(
    first!.filter((mode) => PERSON_ACTING_MODES.has(mode) && rest.every((modes) => modes.includes(mode))),
  );
}

/**
 * Whether a permit rule explicitly admits visitors from another trust domain: its `when` clauses have,
 * as a top-level conjunct, a test that pins `context.grant` to literals including `identity_chaining`
 * (`context.grant == "identity_chaining"`, or `["id_jag", "identity_chaining"].contains(context.grant)`).
 * Anything looser does not count: the default is to deny.
 */
export function admitsVisitors(policy: PolicyJson): boolean {
  return (policy.conditions ?? [])
    .filter((condition) => condition.kind === 'when')
    .flatMap((condition) => conjuncts(condition.body))
    .some((test) => pinnedLiterals(test, 'grant')?.includes('identity_chaining') === true);
}

function conjuncts(expression: unknown): unknown[] {
  const and = (expression as { '&&'?: { left: unknown; right: unknown } } | null)?.['&&'];
  return and ? [...conjuncts(and.left), ...conjuncts(and.right)] : [expression];
}

function isServiceSubjectTest(expression: unknown): boolean {
  const equals = (expression as { '=='?: { left: unknown; right: unknown } } | null)?.['=='];
  if (!equals) return false;
  return (
    (readsContext(equals.left, 'subject_type') && stringLiteral(equals.right) === 'service') ||
    (readsContext(equals.right, 'subject_type') && stringLiteral(equals.left) === 'service')
  );
}

/** The literals one conjunct pins `context.<attribute>` to, or `undefined` when it does not pin it. */
function pinnedLiterals(expression: unknown, attribute: string): string[] | undefined {
  const equals = (expression as { '=='?: { left: unknown; right: unknown } } | null)?.['=='];
  if (equals) {
    const literal = readsContext(equals.left, attribute)
      ? stringLiteral(equals.right)
      : readsContext(equals.right, attribute)
        ? stringLiteral(equals.left)
        : undefined;
    return literal === undefined ? undefined : [literal];
  }
  const contains = (expression as { contains?: { left: unknown; right: unknown } } | null)?.contains;
  if (contains && readsContext(contains.right, attribute)) {
    const set = (contains.left as { Set?: unknown[] } | null)?.Set;
    const modes = set?.map(stringLiteral);
    if (modes?.every((mode) => mode !== undefined)) return modes as string[];
  }
  return undefined;
}

function readsContext(expression: unknown, attribute: string): boolean {
  const access = (expression as { '.'?: { left?: { Var?: unknown }; attr?: unknown } } | null)?.['.'];
  return access?.left?.Var === 'context' && access.attr === attribute;
}

function stringLiteral(expression: unknown): string | undefined {
  const value = (expression as { Value?: unknown } | null)?.Value;
  return typeof value === 'string' ? value : undefined;
}
