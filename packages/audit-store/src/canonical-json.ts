/**
 * The canonical JSON text of a value, the only form that is ever hashed: `JSON.stringify` with every
 * object's keys sorted by UTF-16 code unit order (JavaScript's default sort) and no whitespace. For
 * audit events (strings, finite numbers, booleans, null, arrays, plain objects) this is RFC 8785 (JCS):
 * the same number formatting and the same key order.
 *
 * It is built on `JSON.stringify` (a replacer that re-creates each object with sorted keys), so what
 * JSON drops or maps (`undefined` members, `toJSON`, non-finite numbers → `null`) is dropped or mapped
 * here too, and `canonicalJson(JSON.parse(canonicalJson(x))) === canonicalJson(x)` for every `x`: a
 * record read back from a file or from PostgreSQL hashes exactly as it did when written.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortKeys);
}

function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(source).sort()) sorted[key] = source[key];
  return sorted;
}
