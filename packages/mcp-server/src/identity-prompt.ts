import type { Envelope } from '@baton/envelope';
import type { CallerKind } from '@baton/resource-server';
import type { GetPromptResult, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { DlpPolicy } from './dlp/policy.ts';
import { runIdentityCall } from './identity-call.ts';
import { identityLikeProperties } from './identity-like-input.ts';
import type { InputOf, ToolContext } from './identity-tool.ts';
import type { BoundaryAccess } from './request-context.ts';
import { declaredActorTypes, declaredDlp, scopeChallengeFor } from './surface-declarations.ts';

export interface IdentityPromptGet<Args> {
  /** Who asks, which agent asks for them, under what authority: from the validated token only. */
  readonly identity: Envelope;
  /** The prompt's validated arguments. Never a source of identity. */
  readonly args: Args;
}

export interface IdentityPromptConfig<ArgsSchema extends StandardSchemaWithJSON | undefined> {
  title?: string;
  description?: string;
  /** The arguments, as the SDK takes them (SDK v1 also takes a raw Zod shape). */
  argsSchema?: ArgsSchema;
  /** Scopes the caller's token must carry; missing any is a 403 step-up challenge naming all of them. */
  scopes: readonly string[];
  /** Who may get it: `user` and/or `service` (see `IdentityToolConfig.actorTypes`). Default `['user']`. */
  actorTypes?: readonly CallerKind[];
  /**
   * Arguments that look like identity (`user_id`, `tenant`, …) this prompt takes on purpose, as for
   * tools (`IdentityToolConfig.identityLikeInputAllowed`). Registration refuses any other.
   */
  identityLikeInputAllowed?: readonly string[];
  /**
   * Data loss prevention on the prompt's messages (see `DlpPolicy`), in place of the boundary's
   * default (`IdentityBoundaryOptions.dlp`); `false` turns it off here.
   */
  dlp?: DlpPolicy | false;
  /** Any other SDK prompt metadata (`icons`, `_meta`), passed on as is. */
  icons?: unknown[];
  _meta?: Record<string, unknown>;
}

export type IdentityPromptHandler<Args> = (
  get: IdentityPromptGet<Args>,
  context: ToolContext,
) => GetPromptResult | Promise<GetPromptResult>;

/** SDK v2's or SDK v1's `McpServer`: both take `registerPrompt(name, config, callback)`. */
export interface PromptHost {
  registerPrompt(name: string, config: never, callback: never): unknown;
}

/**
 * Registers an identity prompt for `access`'s boundary. Called by `IdentityBoundary.registerPrompt`,
 * which alone holds an access object.
 * @internal not exported from the package.
 */
export function registerIdentityPromptWith<ArgsSchema extends StandardSchemaWithJSON | undefined>(
  access: BoundaryAccess,
  server: PromptHost,
  name: string,
  scopes: readonly string[],
  config: IdentityPromptConfig<ArgsSchema>,
  handler: IdentityPromptHandler<InputOf<ArgsSchema>>,
): unknown {
  const registration = `registerPrompt(${name})`;
  const policy = {
    scopes,
    actorTypes: declaredActorTypes(registration, config.actorTypes),
    dlp: declaredDlp(registration, config.dlp),
  };
  const item = { kind: 'prompt' as const, name };
  const get = (args: unknown, sdkContext: unknown) =>
    runIdentityCall(access, item, policy, sdkContext, (identity, context) =>
      handler({ identity, args: args as InputOf<ArgsSchema> }, context),
    );
  assertNoUndeclaredIdentityArguments(name, config);
  const {
    scopes: _scopes,
    actorTypes: _actorTypes,
    identityLikeInputAllowed: _allowed,
    dlp: _dlp,
    ...metadata
  } = config;
  return server.registerPrompt(
    name,
    { ...metadata, scopeChallenge: scopeChallengeFor(access, item, scopes) } as never,
    // Both SDKs call back `(args, context)` for a prompt with arguments, `(context)` for one without.
    ((args: unknown, ctx: unknown) => (config.argsSchema ? get(args, ctx) : get(undefined, args))) as never,
  );
}

/**
 * Refuses prompt arguments that look like identity unless declared: identity comes from the envelope.
 * The argument names are read from the schema's JSON Schema (SDK v2) or the raw shape's keys (SDK v1).
 */
function assertNoUndeclaredIdentityArguments(
  name: string,
  config: IdentityPromptConfig<StandardSchemaWithJSON | undefined>,
): void {
  const schema = config.argsSchema as unknown;
  if (schema === undefined || schema === null || typeof schema !== 'object') return;
  const standard = (schema as Partial<StandardSchemaWithJSON>)['~standard'];
  const jsonSchema = standard?.jsonSchema
    ? standard.jsonSchema.input({ target: 'draft-2020-12' })
    : { properties: schema };
  const allowed = new Set(config.identityLikeInputAllowed ?? []);
  const undeclared = identityLikeProperties(jsonSchema).filter((argument) => !allowed.has(argument));
  if (undeclared.length > 0) {
    throw new TypeError(
      `registerPrompt(${name}): argument ${undeclared.join(', ')} looks like identity; identity comes from the envelope. ` +
        'If the prompt really takes it, list it in identityLikeInputAllowed.',
    );
  }
}
