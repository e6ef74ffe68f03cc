/**
 * How one tool call is put to Cedar: the schema operators write tool policies against. Policies are
 * validated against it in strict mode when the boundary is built, so `context.input.amout` or
 * `principal.tenent` fails at start naming the rule, instead of being a rule that never matches.
 *
 * - principal: `Baton::Person::"<sub>"` (a person stands behind the token) or `Baton::Service::"<sub>"`
 *   (a machine's own token), with `tenant` when the token names one;
 * - action: `Baton::Action::"call_tool"`;
 * - resource: `Baton::Tool::"<name>"` with `read_only` and `destructive`, from the tool's MCP annotations
 *   with the spec's defaults (`readOnlyHint` false; `destructiveHint` true unless read-only);
 * - context: `agent` (the OAuth client acting for the person), `chain` (every party between the person
 *   and this server, most recent first, agent last), `services` (the chain without the agent),
 *   `scopes`, `mode` (the delegation mode), and `input`: the tool input fields the operator declared
 *   in `inputAttributes` and the tool listed in `policyInput`, each optional (`context.input has amount`).
 */
export const PERSON_TYPE = 'Baton::Person';
export const SERVICE_TYPE = 'Baton::Service';
export const TOOL_TYPE = 'Baton::Tool';
export const CALL_TOOL_ACTION = { type: 'Baton::Action', id: 'call_tool' } as const;

/** The Cedar types a declared input attribute may have. */
export type InputAttributeType = 'Long' | 'String' | 'Bool';
const INPUT_TYPES: ReadonlySet<string> = new Set(['Long', 'String', 'Bool']);
/** A Cedar identifier, so a declared name can go into the schema text as is. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Cedar reserves these as identifiers. */
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);

export function toolPolicySchema(inputAttributes: Readonly<Record<string, InputAttributeType>>): string {
  const input = Object.entries(inputAttributes)
    .map(([name, type]) => `${name}?: ${type}`)
    .join(', ');
  return `
namespace Baton {
  entity Person { tenant?: String };
  entity Service { tenant?: String };
  entity Tool { read_only: Bool, destructive: Bool };
  action call_tool appliesTo {
    principal: [Person, Service],
    resource: Tool,
    context: {
      agent: String,
      chain: Set<String>,
      services: Set<String>,
      scopes: Set<String>,
      mode: String,
      input: { ${input} },
    },
  };
}
`;
}

/** Checks the operator's declared input attributes; a `TypeError` naming the bad one. */
export function checkInputAttributes(declared: unknown): Readonly<Record<string, InputAttributeType>> {
  if (declared === undefined) return {};
  if (declared === null || typeof declared !== 'object' || Array.isArray(declared))
    throw new TypeError(
      'IdentityBoundary: policy.inputAttributes must map input names to Long, String or Bool',
    );
  const checked: Record<string, InputAttributeType> = {};
  for (const [name, type] of Object.entries(declared)) {
    if (!IDENTIFIER.test(name) || RESERVED.has(name))
      throw new TypeError(`IdentityBoundary: policy.inputAttributes: "${name}" is not a Cedar identifier`);
    if (typeof type !== 'string' || !INPUT_TYPES.has(type))
      throw new TypeError(`IdentityBoundary: policy.inputAttributes.${name} must be Long, String or Bool`);
    checked[name] = type as InputAttributeType;
  }
  return Object.freeze(checked);
}

/**
 * The declared input fields of one call as Cedar values, or the name of the first field whose value
 * does not have its declared type (a fractional or unsafe number for a `Long`, say): such a call is
 * refused, never decided on a value Cedar would read differently.
 */
export function policyInputOf(
  input: unknown,
  fields: readonly string[],
  types: Readonly<Record<string, InputAttributeType>>,
): { input: Record<string, string | number | boolean> } | { invalid: string } {
  const values: Record<string, string | number | boolean> = {};
  const record = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
  for (const field of fields) {
    const value = Object.hasOwn(record, field) ? record[field] : undefined;
    if (value === undefined) continue;
    const type = types[field];
    const fits =
      type === 'Long'
        ? Number.isSafeInteger(value)
        : type === 'String'
          ? typeof value === 'string'
          : typeof value === 'boolean';
    if (!fits) return { invalid: field };
    values[field] = value as string | number | boolean;
  }
  return { input: values };
}
