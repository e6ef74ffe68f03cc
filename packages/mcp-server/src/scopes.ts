/**
 * Scope matching at the MCP boundary, in one place: the 403 step-up challenge, the wrappers' backstop
 * and list filtering all ask here whether a token's scopes cover what a tool, resource or prompt
 * declares. Scopes are opaque strings (RFC 6749 §3.3) matched exactly, except where the boundary
 * declares a hierarchy (`scopeImplications`): MCP 2026-07-28 ("Scope Challenge Handling") requires a
 * server to account for scope hierarchies, where a broader scope implies narrower ones, when deciding
 * whether a token is sufficient for an operation.
 */

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Declared scope implications: each key is a broader scope, its value the narrower scopes a token
 * carrying it is treated as having, e.g. `{ 'orders': ['orders:read', 'orders:write'],
 * 'orders:write': ['orders:read'] }`. Transitive; a cycle is refused.
 */
export type ScopeImplicationsOption = Readonly<Record<string, readonly string[]>>;

/**
 * A scope hierarchy, compiled and checked once (at construction): for each scope, every scope it
 * implies, directly or through others. Without declarations, matching is exact.
 */
export class ScopeImplications {
  /** Scope → every scope it implies (transitively), never itself. */
  readonly #implied: ReadonlyMap<string, ReadonlySet<string>>;

  /** Exact matching: no scope implies another. */
  static readonly none = new ScopeImplications();

  /**
   * Throws `TypeError` (naming `registration`) for a value that is not a record of scope-token lists,
   * and for a cycle (`a ⇒ b ⇒ a`, or `a ⇒ a`): a cycle makes scopes equal, which belongs in the
   * authorization server, not in a hierarchy.
   */
  constructor(declared: ScopeImplicationsOption = {}, registration = 'scopeImplications') {
    if (typeof declared !== 'object' || declared === null || Array.isArray(declared))
      throw new TypeError(`${registration} must map a scope to the scopes it implies`);
    const direct = new Map<string, string[]>();
    for (const [broader, narrower] of Object.entries(declared)) {
      checkScopeToken(registration, broader);
      if (!Array.isArray(narrower) || narrower.length === 0)
        throw new TypeError(`${registration}: ${broader} must imply a non-empty list of scopes`);
      for (const scope of narrower) checkScopeToken(registration, scope);
      direct.set(broader, [...new Set(narrower as string[])]);
    }
    const implied = new Map<string, ReadonlySet<string>>();
    // Depth-first closure; `path` holds the scopes being expanded, so meeting one again is a cycle.
    const expand = (scope: string, path: string[]): ReadonlySet<string> => {
      const done = implied.get(scope);
      if (done) return done;
      if (path.includes(scope))
        throw new TypeError(
          `${registration}: cycle ${[...path.slice(path.indexOf(scope)), scope].join(' ⇒ ')}`,
        );
      const all = new Set<string>();
      for (const narrower of direct.get(scope) ?? []) {
        all.add(narrower);
        for (const further of expand(narrower, [...path, scope])) all.add(further);
      }
      implied.set(scope, all);
      return all;
    };
    for (const scope of direct.keys()) expand(scope, []);
    this.#implied = implied;
  }

  /** Whether `granted` covers every scope in `required`. */
  covers(granted: readonly string[], required: readonly string[]): boolean {
    return this.missing(granted, required).length === 0;
  }

  /** The scopes in `required` that `granted` does not cover (itself or by implication), in declared order. */
  missing(granted: readonly string[], required: readonly string[]): string[] {
    return required.filter(
      (scope) => !granted.some((held) => held === scope || this.#implied.get(held)?.has(scope) === true),
    );
  }

  /**
   * What a step-up challenge names for `required`: the least scopes that satisfy it, i.e. `required`
   * without a scope another required scope implies (`orders:read orders:write` with `orders:write ⇒
   * orders:read` is `orders:write`). MCP asks for "the minimum scopes needed for the operation", so a
   * broader scope that merely also covers it (`orders`) is never named.
   */
  least(required: readonly string[]): string[] {
    const unique = [...new Set(required)];
    return unique.filter((scope) => !unique.some((other) => this.#implied.get(other)?.has(scope) === true));
  }
}

/**
 * Whether `granted` covers every scope in `required` under `implications` (exact matching with
 * `ScopeImplications.none`).
 *
 * @example
 * scopesCover(['orders:read', 'orders:write'], ['orders:read'], ScopeImplications.none); // true
 * scopesCover(['orders:write'], ['orders:read'], new ScopeImplications({ 'orders:write': ['orders:read'] })); // true
 */
export function scopesCover(
  granted: readonly string[],
  required: readonly string[],
  implications: ScopeImplications,
): boolean {
  return implications.covers(granted, required);
}

/**
 * The scopes a registration declares, checked: a list of RFC 6749 scope tokens (they go into the 403
 * challenge's `scope`, which RFC 6750 §3 limits to this). Throws `TypeError` naming the registration.
 */
export function declaredScopes(registration: string, scopes: unknown): string[] {
  if (!Array.isArray(scopes)) throw new TypeError(`${registration}: scopes must be declared`);
  const malformed = scopes.filter((scope) => typeof scope !== 'string' || !SCOPE_TOKEN.test(scope));
  if (malformed.length > 0)
    throw new TypeError(`${registration}: scopes must be RFC 6749 scope tokens: ${malformed.join(', ')}`);
  return [...scopes] as string[];
}

function checkScopeToken(registration: string, scope: unknown): void {
  if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope))
    throw new TypeError(`${registration}: ${String(scope)} is not an RFC 6749 scope token`);
}
