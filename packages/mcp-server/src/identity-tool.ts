import type { AuditOutcome, AuditReason } from '@baton/audit';
import type { Envelope, MintedEnvelope } from '@baton/envelope';
import { type CallerKind, tokenProvenance } from '@baton/resource-server';
import type { CallToolResult, StandardSchemaWithJSON, ToolAnnotations } from '@modelcontextprotocol/server';
import { context as otelContext } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { CheckedDlpPolicy, DlpPolicy } from './dlp/policy.ts';
import { type DlpFindings, mergedFindings, scanMessage, scanResult, scanThrown } from './dlp/scan.ts';
import { DownstreamClient } from './downstream/client.ts';
import { DownstreamError } from './downstream/errors.ts';
import { identityLikeProperties } from './identity-like-input.ts';
import { gateToolCall } from './policy/gate.ts';
import { type BoundaryAccess, type OpenedRequest, openedFrom } from './request-context.ts';
import { declaredScopes, scopesCover } from './scopes.ts';
import { type SdkCallContext, sdkCallContext } from './sdk-call-context.ts';
import {
  mintEnvelopeFor,
  recordSurfaceDenial,
  recordSurfaceEvent,
  startSurfaceSpan,
} from './surface-audit.ts';
import { declaredActorTypes, declaredDlp, scopeChallengeFor } from './surface-declarations.ts';
import { endHopSpan, type HopSpan, identityAttributes } from './telemetry.ts';

/** What a tool may use besides identity and input: the SDK's non-auth context, nothing that holds a token. */
export interface ToolContext {
  /** Aborted when the client cancels the call. */
  readonly signal: AbortSignal;
  /** Reports progress to the client when it asked for it (a `progressToken`); otherwise a no-op. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Server-side structured log, already tagged with trace id, tool and actor. */
  readonly log: Logger;
  /** Calls to declared downstream services, with credentials chosen by their mode. */
  readonly downstream: DownstreamClient;
}

export interface IdentityToolInvocation<Input> {
  /** Who initiated, which agent executes, and under what authority: derived from the validated token only. */
  readonly identity: Envelope;
  /** The tool's validated arguments. Never a source of identity. */
  readonly input: Input;
}

export interface IdentityToolConfig<InputSchema extends StandardSchemaWithJSON | undefined> {
  title?: string;
  description?: string;
  inputSchema?: InputSchema;
  annotations?: ToolAnnotations;
  /** Scopes the caller's token must carry; missing any is a 403 step-up challenge naming all of them. */
  scopes: readonly string[];
  /**
   * Input properties that look like identity (`user_id`, `tenant`, …) this tool takes on purpose,
   * e.g. an admin lookup. Registration refuses any other. They never change `identity`.
   */
  identityLikeInputAllowed?: readonly string[];
  /**
   * Who may call the tool: `user` (a person stands behind the token) and/or `service` (a machine's
   * own token, accepted only on a boundary with `serviceCallers: 'accept'`). Default `['user']`.
   */
  actorTypes?: readonly CallerKind[];
  /**
   * Input fields the boundary's tool policy may read (`context.input.<field>`), each declared in the
   * boundary's `policy.inputAttributes` with its Cedar type, e.g. `['amount']`. Default none.
   */
  policyInput?: readonly string[];
  /**
   * Data loss prevention on this tool's results (secrets and personal data; see `DlpPolicy`), in
   * place of the boundary's default (`IdentityBoundaryOptions.dlp`); `false` turns it off here.
   */
  dlp?: DlpPolicy | false;
}

export type InputOf<S> = S extends StandardSchemaWithJSON ? StandardSchemaWithJSON.InferOutput<S> : undefined;

export type IdentityToolHandler<Input> = (
  invocation: IdentityToolInvocation<Input>,
  context: ToolContext,
) => CallToolResult | Promise<CallToolResult>;

/**
 * An MCP server a tool can be registered on: SDK v2's `McpServer` (`@modelcontextprotocol/server`) or
 * SDK v1's (`@modelcontextprotocol/sdk/server/mcp.js`). Both take `registerTool(name, config, handler)`;
 * what differs is the context their handlers get, which `sdkCallContext` translates.
 */
export interface ToolHost {
  registerTool(name: string, config: never, handler: never): unknown;
}

/**
 * Registers an identity tool for `access`'s boundary. Called by `IdentityBoundary.registerTool`, which
 * alone holds an access object; without one this function can open no request.
 * @internal not exported from the package.
 */
export function registerIdentityToolWith<InputSchema extends StandardSchemaWithJSON | undefined>(
  access: BoundaryAccess,
  server: ToolHost,
  name: string,
  config: IdentityToolConfig<InputSchema>,
  handler: IdentityToolHandler<InputOf<InputSchema>>,
): unknown {
  const registration = `registerTool(${name})`;
  const item = { kind: 'tool' as const, name };
  // RFC 6749 §3.3 scope-tokens: they go into the 403 challenge's `scope`, which RFC 6750 §3 limits to these.
  const required = declaredScopes(registration, config?.scopes);
  const actorTypes = declaredActorTypes(registration, config.actorTypes);
  assertNoUndeclaredIdentityInput(name, config);
  // DLP (issue #12 item 5): the tool's own policy, checked at registration; else the boundary's default.
  const toolDlp = declaredDlp(registration, config.dlp);

  const run = async (args: unknown, sdkContext: unknown): Promise<CallToolResult> => {
    const ctx = sdkCallContext(sdkContext);
    const opened = openedFrom(access, ctx.authInfo);
    if (!opened) {
      // Mounted without this boundary, or handed a context this boundary did not make for the request
      // in flight (forged, kept from another request, expired): no identity to act for. Fail closed.
      return toolError('this tool requires an authenticated caller');
    }
    const started = performance.now();
    const hop = startSurfaceSpan(opened, item, ctx.meta?.traceparent);
    const deny = async (reason: 'scope_insufficient' | 'actor_type_not_allowed', text: string) => {
      await recordSurfaceDenial(opened, item, started, hop, reason);
      return toolError(text);
    };
    if (!actorTypes.has(opened.identity.actor.type)) {
      return deny(
        'actor_type_not_allowed',
        opened.identity.actor.type === 'service'
          ? 'this tool acts for a person; a service token cannot call it'
          : 'this tool is for services only',
      );
    }
    if (!scopesCover(opened.claims.scopes, required, opened.settings.scopes)) {
      // The SDK's pre-dispatch scope challenge normally answers first; this is the backstop.
      return deny('scope_insufficient', `insufficient scope: this tool requires ${required.join(' ')}`);
    }
    // Declared per-tool policy and human approval (issue #12): Cedar decides, and a call it marks
    // `@approval("required")` runs only once the person approved exactly this call.
    let approvalId: string | undefined;
    const gate = opened.settings.toolGate;
    if (gate) {
      const decided = await gateToolCall(gate, opened, {
        tool: name,
        annotations: config.annotations,
        policyInput: config.policyInput ?? [],
        input: args,
        sdkContext,
        server,
      });
      if (decided.kind !== 'run') {
        const reason = decided.kind === 'ask' ? 'approval_required' : decided.reason;
        const extra = {
          policyRules: decided.rules,
          ...(decided.approvalId ? { approvalId: decided.approvalId } : {}),
        };
        await recordSurfaceDenial(opened, item, started, hop, reason, extra);
        if (decided.kind === 'refuse') return toolError(decided.text);
        if ('error' in decided.answer) throw decided.answer.error;
        return decided.answer.result;
      }
      approvalId = decided.approvalId;
    }
    // Shared with resources and prompts: minted under this call's trace, a failed mint audited.
    const minted = await mintEnvelopeFor(opened, { kind: 'tool', name }, started, hop);
    const { envelope } = minted;
    // Attributes are built only for a recording span: without a tracing SDK this costs nothing.
    if (hop.span.isRecording()) hop.span.setAttributes(identityAttributes(envelope));
    // Ends with the handler: a downstream client the tool keeps can no longer act for this caller.
    const invocation = { live: true };
    let outcome: AuditOutcome = 'ok';
    let reason: AuditReason | undefined;
    const dlpPolicy: CheckedDlpPolicy | undefined =
      toolDlp === false ? undefined : (toolDlp ?? opened.settings.dlp);
    let dlp: DlpFindings | undefined;
    // Progress messages leave the server too: scanned with the tool's policy, audited with the call.
    const progressDlp = dlpPolicy
      ? { policy: dlpPolicy, found: (found: DlpFindings) => (dlp = mergedFindings(dlp, found)) }
      : undefined;
    const context = toolContext(ctx, opened, minted, name, hop, invocation, progressDlp);
    try {
      // The tool span is active in the handler: its own spans and instrumented calls are children.
      const result = await otelContext.with(
        hop.context,
        handler,
        undefined,
        {
          identity: envelope,
          input: args as InputOf<InputSchema>,
        },
        context,
      );
      let sent: CallToolResult = result;
      if (dlpPolicy) {
        // DLP (issue #12 item 5): what leaves the server is scanned; the audit names detectors and counts.
        const scan = await scanResult(result, dlpPolicy);
        dlp = mergedFindings(dlp, scan.dlp);
        sent = scan.result;
        if (scan.blocked) {
          outcome = 'denied';
          reason = 'dlp_blocked';
          return sent;
        }
      }
      if (sent.isError) {
        outcome = 'error';
        reason = 'tool_reported_error';
      }
      return sent;
    } catch (error) {
      outcome = 'error';
      reason = 'tool_threw';
      if (!dlpPolicy) throw error;
      // The SDK sends a thrown error's message to the client: it leaves the server too.
      const scan = await scanThrown(error, dlpPolicy);
      dlp = mergedFindings(dlp, scan.dlp);
      throw scan.error;
    } finally {
      invocation.live = false;
      endHopSpan(hop, outcome, reason);
      await recordSurfaceEvent(opened, { kind: 'tool', name }, outcome, started, reason, envelope, hop, {
        ...(approvalId ? { approvalId } : {}),
        ...(dlp ? { dlp } : {}),
      });
    }
  };

  return server.registerTool(
    name,
    {
      ...(config.title ? { title: config.title } : {}),
      ...(config.description ? { description: config.description } : {}),
      ...(config.inputSchema ? { inputSchema: config.inputSchema } : {}),
      ...(config.annotations ? { annotations: config.annotations } : {}),
      scopeChallenge: scopeChallengeFor(access, item, required),
    } as never,
    ((args: unknown, ctx: unknown) => (config.inputSchema ? run(args, ctx) : run(undefined, args))) as never,
  );
}

/**
 * What a tool (or an identity resource or prompt) may use besides identity and input.
 * @internal not exported from the package.
 */
export function toolContext(
  ctx: SdkCallContext,
  opened: OpenedRequest,
  minted: MintedEnvelope,
  tool: string,
  hop: HopSpan,
  invocation: { readonly live: boolean },
  /** The call's DLP policy, for progress messages, and where their findings go. */
  dlp?: { policy: CheckedDlpPolicy; found(findings: DlpFindings): void },
): ToolContext {
  const { envelope } = minted;
  const { logger, downstream } = opened.settings;
  const progressToken = ctx.meta?.progressToken;
  let log: Logger | undefined;
  let client: DownstreamClient | undefined;
  return Object.freeze({
    signal: ctx.signal,
    // Created on first use: most tools never log, and a pino child per call is measurable.
    get log() {
      log ??= logger.child({ trace_id: envelope.session.trace_id, tool, actor_sub: envelope.actor.sub });
      return log;
    },
    get downstream() {
      if (!downstream) {
        throw new DownstreamError(
          'ERR_DOWNSTREAM_NOT_CONFIGURED',
          'this server declares no downstream services',
        );
      }
      client ??= new DownstreamClient(
        {
          envelope,
          envelopeToken: () => minted.token,
          subjectToken: opened.subjectToken,
          subjectIssuer: opened.claims.issuer,
          subjectProvenance: tokenProvenance(opened.claims),
          hop,
          active: () => invocation.live && opened.claims.expiresAt * 1000 > Date.now(),
        },
        downstream,
      );
      return client;
    },
    async progress(progress: number, total?: number, text?: string) {
      if (progressToken === undefined) return;
      let message = text;
      if (message && dlp) {
        const scan = await scanMessage(message, dlp.policy);
        if (scan.dlp) dlp.found(scan.dlp);
        message = scan.message;
      }
      await ctx.notify({
        method: 'notifications/progress',
        params: {
          progressToken,
          progress,
          ...(total !== undefined ? { total } : {}),
          ...(message ? { message } : {}),
        },
      });
    },
  });
}

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/**
 * Schemas already checked, with their allow-lists. `createMcpHandler` builds a server per request, so
 * registration runs per request too; the JSON Schema conversion behind this check runs once per schema.
 */
const checkedSchemas = new WeakMap<object, string>();

function assertNoUndeclaredIdentityInput(
  name: string,
  config: IdentityToolConfig<StandardSchemaWithJSON | undefined>,
) {
  if (!config.inputSchema) return;
  const allowList = (config.identityLikeInputAllowed ?? []).join(',');
  if (checkedSchemas.get(config.inputSchema) === allowList) return;
  const jsonSchema = config.inputSchema['~standard'].jsonSchema.input({ target: 'draft-2020-12' });
  const allowed = new Set(config.identityLikeInputAllowed ?? []);
  const undeclared = identityLikeProperties(jsonSchema).filter((property) => !allowed.has(property));
  if (undeclared.length > 0) {
    throw new TypeError(
      `registerTool(${name}): input ${undeclared.join(', ')} looks like identity; identity comes from the envelope. ` +
        'If the tool really takes it (e.g. an admin lookup), list it in identityLikeInputAllowed.',
    );
  }
  checkedSchemas.set(config.inputSchema, allowList);
}
