import type { Envelope } from '@baton/envelope';
import type { CallerKind } from '@baton/resource-server';
import type { ReadResourceResult } from '@modelcontextprotocol/server';
import type { DlpPolicy } from './dlp/policy.ts';
import { runIdentityCall } from './identity-call.ts';
import { identityLikeProperties } from './identity-like-input.ts';
import type { ToolContext } from './identity-tool.ts';
import type { BoundaryAccess } from './request-context.ts';
import { declaredActorTypes, declaredDlp, scopeChallengeFor } from './surface-declarations.ts';
import type { UriTemplateLike } from './surface-registry.ts';

export interface IdentityResourceRead {
  /** Who is reading, which agent reads for them, under what authority: from the validated token only. */
  readonly identity: Envelope;
  /** The URI read. */
  readonly uri: URL;
  /** A templated resource's variables as the SDK matched them (`{}` for a static one). Never a source of identity. */
  readonly variables: Readonly<Record<string, string | string[]>>;
}

export interface IdentityResourceConfig {
  /** Scopes the caller's token must carry; missing any is a 403 step-up challenge naming all of them. */
  scopes: readonly string[];
  /** Who may read it: `user` and/or `service` (see `IdentityToolConfig.actorTypes`). Default `['user']`. */
  actorTypes?: readonly CallerKind[];
  /**
   * Template variables that look like identity (`{user}`, `{tenant}`, …) this resource takes on purpose.
   * Registration refuses any other: identity comes from the envelope, never the URI. They never change
   * `identity`; a handler that takes one decides what it may show for it.
   */
  identityLikeVariablesAllowed?: readonly string[];
  /**
   * Data loss prevention on what a read returns (see `DlpPolicy`), in place of the boundary's default
   * (`IdentityBoundaryOptions.dlp`); `false` turns it off here.
   */
  dlp?: DlpPolicy | false;
  title?: string;
  description?: string;
  mimeType?: string;
  /** Any other SDK resource metadata (`annotations`, `icons`, `_meta`, `size`), passed on as is. */
  [metadata: string]: unknown;
}

export type IdentityResourceHandler = (
  read: IdentityResourceRead,
  context: ToolContext,
) => ReadResourceResult | Promise<ReadResourceResult>;

/** SDK v2's or SDK v1's `McpServer`: both take `registerResource(name, uriOrTemplate, config, callback)`. */
export interface ResourceHost {
  registerResource(name: string, uriOrTemplate: never, config: never, callback: never): unknown;
}

/**
 * Registers an identity resource (a static URI or an SDK `ResourceTemplate`) for `access`'s boundary.
 * Called by `IdentityBoundary.registerResource`, which alone holds an access object.
 * @internal not exported from the package.
 */
export function registerIdentityResourceWith(
  access: BoundaryAccess,
  server: ResourceHost,
  name: string,
  uriOrTemplate: string | UriTemplateLike,
  scopes: readonly string[],
  config: IdentityResourceConfig,
  handler: IdentityResourceHandler,
): unknown {
  const registration = `registerResource(${name})`;
  const policy = {
    scopes,
    actorTypes: declaredActorTypes(registration, config.actorTypes),
    dlp: declaredDlp(registration, config.dlp),
  };
  if (typeof uriOrTemplate !== 'string')
    assertNoUndeclaredIdentityVariables(registration, uriOrTemplate, config);
  const item = { kind: 'resource' as const, name };
  const read = (uri: URL, variables: Record<string, string | string[]>, sdkContext: unknown) =>
    runIdentityCall(access, item, policy, sdkContext, (identity, context) =>
      handler({ identity, uri, variables: Object.freeze({ ...variables }) }, context),
    );
  const {
    scopes: _scopes,
    actorTypes: _actorTypes,
    identityLikeVariablesAllowed: _allowed,
    dlp: _dlp,
    ...metadata
  } = config;
  // SDK v2 takes `scopeChallenge` out of the metadata; SDK v1 keeps the object as the resource's
  // metadata, so the hook is removed once registered and never reaches `resources/list`.
  const sdkConfig: Record<string, unknown> = {
    ...metadata,
    scopeChallenge: scopeChallengeFor(access, item, scopes),
  };
  const callback =
    typeof uriOrTemplate === 'string'
      ? (uri: URL, sdkContext: unknown) => read(uri, {}, sdkContext)
      : (uri: URL, variables: Record<string, string | string[]>, sdkContext: unknown) =>
          read(uri, variables, sdkContext);
  const registered = server.registerResource(
    name,
    uriOrTemplate as never,
    sdkConfig as never,
    callback as never,
  );
  delete sdkConfig.scopeChallenge;
  return registered;
}

function assertNoUndeclaredIdentityVariables(
  registration: string,
  template: UriTemplateLike,
  config: IdentityResourceConfig,
): void {
  const names = (template.uriTemplate as { variableNames?: unknown }).variableNames;
  if (!Array.isArray(names)) return;
  const allowed = new Set(config.identityLikeVariablesAllowed ?? []);
  const properties = Object.fromEntries(names.map((variable) => [String(variable), {}]));
  const undeclared = identityLikeProperties({ properties }).filter((variable) => !allowed.has(variable));
  if (undeclared.length > 0) {
    throw new TypeError(
      `${registration}: template variable ${undeclared.join(', ')} looks like identity; identity comes from the envelope. ` +
        'If the resource really takes it, list it in identityLikeVariablesAllowed and decide in the handler what it may show.',
    );
  }
}
