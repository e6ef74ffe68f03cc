import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * Whether a rule explicitly requires a subject with no person behind it: one of its `when` clauses
 * has `context.subject_type == "service"` (either way round) as a top-level conjunct. Such a rule
 * cannot match a person, so permitting a machine is what it says, not a side effect of a rule written
 * for people. Anything looser (`||`, `contains`, `!=`) does not count: the default is to deny.
 */
export function requiresServiceSubject(policy: PolicyJson): boolean {
  return (policy.conditions ?? []).some(
    (condition) => condition.kind === 'when' && conjuncts(condition.body).some(isServiceSubjectTest),
  );
}

function conjuncts(expression: unknown): unknown[] {
  const and = (expression as { '&&'?: { left: unknown; right: unknown } } | null)?.['&&'];
  return and ? [...conjuncts(and.left), ...conjuncts(and.right)] : [expression];
}

function isServiceSubjectTest(expression: unknown): boolean {
  const equals = (expression as { '=='?: { left: unknown; right: unknown } } | null)?.['=='];
  if (!equals) return false;
  return (
    (readsSubjectType(equals.left) && isServiceLiteral(equals.right)) ||
    (readsSubjectType(equals.right) && isServiceLiteral(equals.left))
  );
}

function readsSubjectType(expression: unknown): boolean {
  const access = (expression as { '.'?: { left?: { Var?: unknown }; attr?: unknown } } | null)?.['.'];
  return access?.left?.Var === 'context' && access.attr === 'subject_type';
}

function isServiceLiteral(expression: unknown): boolean {
  return (expression as { Value?: unknown } | null)?.Value === 'service';
}
