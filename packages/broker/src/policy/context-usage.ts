import { CONTEXT_ATTRIBUTES, type ContextAttribute } from './request-model.ts';

/**
 * Which context attributes a policy set can read. Cedar is sent only these, and memo keys include
 * only these, so that facts no rule looks at (typically the subject: every user is different) do not
 * defeat the memo.
 *
 * The walk is deliberately conservative: it visits every node of the policies' JSON form, counts
 * `context.x`, `context["x"]` and `context has x` as reads of `x`, and treats any other use of
 * `context` (for instance `context == {...}`) as reading everything. A node it misreads can only make
 * the set larger, never smaller, so a memo hit can never depend on a fact left out of its key.
 */
export function contextAttributesRead(policies: Iterable<unknown>): readonly ContextAttribute[] {
  const read = new Set<string>();
  let wholeContext = false;

  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.Var === 'context') {
      wholeContext = true;
      return;
    }
    for (const [key, value] of Object.entries(record)) {
      const attribute = (key === '.' || key === 'has') && contextAccess(value);
      if (attribute !== false) read.add(attribute);
      else visit(value);
    }
  };
  for (const policy of policies) visit(policy);

  return wholeContext ? CONTEXT_ATTRIBUTES : CONTEXT_ATTRIBUTES.filter((attribute) => read.has(attribute));
}

/** `{ left: { Var: "context" }, attr }` → the attribute read (the first one for `has a.b`), else false. */
function contextAccess(operands: unknown): string | false {
  if (operands === null || typeof operands !== 'object') return false;
  const { left, attr } = operands as { left?: unknown; attr?: unknown };
  if (left === null || typeof left !== 'object' || (left as { Var?: unknown }).Var !== 'context')
    return false;
  const first = Array.isArray(attr) ? attr[0] : attr;
  return typeof first === 'string' ? first : false;
}
