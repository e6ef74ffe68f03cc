import type { SurfaceItem } from './surface-audit.ts';
import type { SurfaceCall } from './surface-requests.ts';

/** The part of an SDK `ResourceTemplate` (v1 or v2) the boundary reads: its URI template's matcher. */
export interface UriTemplateLike {
  readonly uriTemplate: { match(uri: string): unknown; toString(): string };
}

/** A tool, resource or prompt the boundary registered, with the scopes it declared. */
export interface DeclaredItem extends SurfaceItem {
  readonly scopes: readonly string[];
  /** A static resource's URI. */
  readonly uri?: string;
}

/**
 * What one boundary registered, with the scopes each item declared: what the 403 step-up challenge
 * before dispatch and list filtering look items up in. Tools and prompts by name; resources by URI,
 * templated ones by matching their URI template. One boundary gives an item one scope set, however
 * often it is registered (`createMcpHandler` builds a server per request).
 * @internal not exported from the package.
 */
export class SurfaceRegistry {
  readonly #tools = new Map<string, DeclaredItem>();
  readonly #prompts = new Map<string, DeclaredItem>();
  /** Static resources, by URI as the SDK keys them (`new URL(uri).toString()`). */
  readonly #resources = new Map<string, DeclaredItem>();
  /** Templated resources, by template name. */
  readonly #templates = new Map<string, DeclaredItem & { template: UriTemplateLike }>();

  /**
   * Refuses a registration that gives a known item other scopes: checked before the SDK registers it.
   * A template is keyed by its name (with `template`), a static resource by its URI, a tool or prompt
   * by its name.
   */
  assertDeclarable(item: DeclaredItem, template?: UriTemplateLike): void {
    const known = this.#tableOf(item, template !== undefined).get(keyOf(item, template));
    if (known && !sameScopes(known.scopes, item.scopes))
      throw new TypeError(`register(${item.name}): this boundary already gave ${item.name} other scopes`);
  }

  /** Records a registration (see `assertDeclarable`). */
  declare(item: DeclaredItem, template?: UriTemplateLike): void {
    this.assertDeclarable(item, template);
    const entry = Object.freeze({
      kind: item.kind,
      name: item.name,
      scopes: Object.freeze([...item.scopes]),
    });
    const key = keyOf(item, template);
    if (template) this.#templates.set(key, { ...entry, template });
    else this.#tableOf(item, false).set(key, entry);
  }

  /** The registered item a call names: a tool or prompt by name, a resource by the URI read. */
  itemOf(call: SurfaceCall): DeclaredItem | undefined {
    if (call.kind === 'tool') return this.tool(call.ref);
    if (call.kind === 'prompt') return this.prompt(call.ref);
    return this.resource(call.ref);
  }

  tool(name: string): DeclaredItem | undefined {
    return this.#tools.get(name);
  }

  prompt(name: string): DeclaredItem | undefined {
    return this.#prompts.get(name);
  }

  /** A resource template, by its name (as `resources/templates/list` names it). */
  template(name: string): DeclaredItem | undefined {
    return this.#templates.get(name);
  }

  /** A resource template, by its URI template (as `completion/complete` names it). */
  templateOfUriTemplate(uriTemplate: string): DeclaredItem | undefined {
    for (const template of this.#templates.values()) {
      if (template.template.uriTemplate.toString() === uriTemplate) return template;
    }
    return undefined;
  }

  /**
   * The registered resource that serves `uri`, as the SDKs resolve a `resources/read`: a static
   * resource with this exact URI first, then the first template whose URI template matches.
   */
  resource(uri: string): DeclaredItem | undefined {
    const key = normalize(uri);
    const exact = this.#resources.get(key);
    if (exact) return exact;
    for (const template of this.#templates.values()) {
      if (template.template.uriTemplate.match(key)) return template;
    }
    return undefined;
  }

  #tableOf(item: DeclaredItem, templated: boolean): Map<string, DeclaredItem> {
    if (item.kind === 'tool') return this.#tools;
    if (item.kind === 'prompt') return this.#prompts;
    return templated ? this.#templates : this.#resources;
  }
}

function keyOf(item: DeclaredItem, template: UriTemplateLike | undefined): string {
  return template || item.kind !== 'resource' ? item.name : normalize(item.uri ?? item.name);
}

/** A resource URI as the SDKs key and match it (`new URL(uri).toString()`); anything else unchanged. */
function normalize(key: string): string {
  try {
    return new URL(key).toString();
  } catch {
    return key;
  }
}

function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((scope) => b.includes(scope));
}
