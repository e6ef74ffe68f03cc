import {
  type AuditOutcome,
  auditEvent,
  newSpanId,
  newTraceId,
  parentSpanIdFrom,
  traceIdFrom,
} from '@baton/audit';
import type { Envelope, MintedEnvelope } from '@baton/envelope';
import { delegationOf } from '@baton/resource-server';
import type {
  AuthInfo,
  CallToolResult,
  JSONRPCRequest,
  McpServer,
  RegisteredTool,
  ServerContext,
  StandardSchemaWithJSON,
  ToolAnnotations,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import { DownstreamClient } from './downstream/client.ts';
import { DownstreamError } from './downstream/errors.ts';
import { envelopeBodyFromClaims } from './identity-from-claims.ts';
import { identityLikeProperties } from './identity-like-input.ts';
import {
  type BoundaryRequestContext,
  boundaryContextOf,
  sealedSubjectToken,
  settingsOf,
} from './request-context.ts';
import { endHopSpan, type HopSpan, identityAttributes, startHopSpan } from './telemetry.ts';

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
}

type InputOf<S> = S extends StandardSchemaWithJSON ? StandardSchemaWithJSON.InferOutput<S> : undefined;

export type IdentityToolHandler<Input> = (
  invocation: IdentityToolInvocation<Input>,
  context: ToolContext,
) => CallToolResult | Promise<CallToolResult>;

/**
 * Registers a tool that runs only behind the identity boundary and receives `{ identity, input }`.
 * The SDK checks the declared scopes before dispatch (403 with the step-up challenge); the wrapper
 * checks again, mints the envelope, runs the handler and records one audit event per invocation.
 *
 * @example
 * registerIdentityTool(server, 'list_orders', { scopes: ['orders:read'], inputSchema: z.object({}) },
 *   async ({ identity }) => ({ content: [{ type: 'text', text: JSON.stringify(ordersOf(identity.actor.sub)) }] }));
 */
export function registerIdentityTool<InputSchema extends StandardSchemaWithJSON | undefined = undefined>(
  server: McpServer,
  name: string,
  config: IdentityToolConfig<InputSchema>,
  handler: IdentityToolHandler<InputOf<InputSchema>>,
): RegisteredTool {
  const required = [...(config.scopes ?? [])];
  if (!Array.isArray(config.scopes))
    throw new TypeError(`registerIdentityTool(${name}): scopes must be declared`);
  assertNoUndeclaredIdentityInput(name, config);

  const run = async (args: unknown, ctx: ServerContext): Promise<CallToolResult> => {
    const boundary = boundaryContextOf(ctx.http?.authInfo);
    if (!boundary) {
      // Mounted without the boundary: there is no identity to act for. Fail closed.
      return toolError('this tool requires an authenticated caller');
    }
    const started = performance.now();
    const metaTraceparent = ctx.mcpReq._meta?.traceparent;
    const traceId = traceIdFrom(metaTraceparent) ?? boundary.httpTraceId ?? newTraceId();
    const hop = startHopSpan(`tool ${name}`, 'server', {
      traceId,
      parentSpanId: traceIdFrom(metaTraceparent)
        ? parentSpanIdFrom(metaTraceparent)
        : boundary.httpParentSpanId,
    });
    hop.span.setAttribute('mcp.tool.name', name);
    const span = {
      id: hop.spanId,
      parent: traceIdFrom(metaTraceparent) ? parentSpanIdFrom(metaTraceparent) : boundary.httpParentSpanId,
    };
    const missing = required.filter((scope) => !boundary.claims.scopes.includes(scope));
    if (missing.length > 0) {
      // The SDK's pre-dispatch scope challenge normally answers first; this is the backstop.
      await record(boundary, name, traceId, 'denied', started, 'scope_insufficient', undefined, span);
      endHopSpan(hop, 'denied', 'scope_insufficient');
      return toolError(`insufficient scope: this tool requires ${required.join(' ')}`);
    }
    let minted: MintedEnvelope;
    try {
      minted = settingsOf(boundary).envelopes.mint(envelopeBody(boundary, traceId));
    } catch (error) {
      // The boundary refuses claims that cannot form an envelope; this is the backstop, so that a
      // failed mint is still audited and its span still ends.
      endHopSpan(hop, 'error', 'claims_invalid');
      await record(boundary, name, traceId, 'error', started, 'claims_invalid', undefined, span);
      throw error;
    }
    const { envelope } = minted;
    hop.span.setAttributes(identityAttributes(envelope));
    const context = toolContext(ctx, boundary, minted, name, hop);
    let outcome: AuditOutcome = 'ok';
    let reason: string | undefined;
    try {
      const result = await handler({ identity: envelope, input: args as InputOf<InputSchema> }, context);
      if (result.isError) {
        outcome = 'error';
        reason = 'tool_reported_error';
      }
      return result;
    } catch (error) {
      outcome = 'error';
      reason = 'tool_threw';
      throw error;
    } finally {
      endHopSpan(hop, outcome, reason);
      await record(boundary, name, traceId, outcome, started, reason, envelope, span);
    }
  };

  return server.registerTool(
    name,
    {
      ...(config.title ? { title: config.title } : {}),
      ...(config.description ? { description: config.description } : {}),
      ...(config.inputSchema ? { inputSchema: config.inputSchema } : {}),
      ...(config.annotations ? { annotations: config.annotations } : {}),
      scopeChallenge: async ({ request, authInfo }: { request: JSONRPCRequest; authInfo?: AuthInfo }) => {
        const boundary = boundaryContextOf(authInfo);
        if (!boundary || required.every((scope) => boundary.claims.scopes.includes(scope))) return undefined;
        const meta = (request.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
        const traceId = traceIdFrom(meta?.traceparent) ?? boundary.httpTraceId ?? newTraceId();
        const parent = traceIdFrom(meta?.traceparent)
          ? parentSpanIdFrom(meta?.traceparent)
          : boundary.httpParentSpanId;
        await record(boundary, name, traceId, 'denied', performance.now(), 'scope_insufficient', undefined, {
          id: newSpanId(),
          parent,
        });
        return {
          scopes: required as [string, ...string[]],
          errorDescription: `tool ${name} requires more scope`,
        };
      },
    } as never,
    ((args: unknown, ctx: ServerContext) =>
      config.inputSchema ? run(args, ctx) : run(undefined, args as ServerContext)) as never,
  );
}

function envelopeBody(boundary: BoundaryRequestContext, traceId: string) {
  return envelopeBodyFromClaims(boundary.claims, { traceId, delegation: settingsOf(boundary).delegation });
}

async function record(
  boundary: BoundaryRequestContext,
  tool: string,
  traceId: string,
  outcome: AuditOutcome,
  started: number,
  reason: string | undefined,
  envelope: Envelope | undefined,
  span: { id: string; parent: string | undefined },
): Promise<void> {
  const { claims } = boundary;
  const settings = settingsOf(boundary);
  const { agent, services } = delegationOf(claims);
  const event = auditEvent({
    action: 'tool.invoke',
    component: settings.component,
    trace_id: traceId,
    initiator: { sub: claims.subject, tenant: envelope?.actor.tenant ?? tenantOf(claims.claims) },
    agent: { id: agent, client_id: agent },
    target: { type: 'tool', name: tool },
    delegation_mode: settings.delegation.mode,
    scopes: claims.scopes,
    outcome,
    ...(reason ? { reason } : {}),
    duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
    ...(envelope ? { envelope_id: envelope.id } : {}),
    chain: [...services, agent],
    span_id: span.id,
    ...(span.parent ? { parent_span_id: span.parent } : {}),
  });
  try {
    await settings.audit.write(event);
  } catch (error) {
    // Never a silent drop: the call fails closed and the failure is logged without the event's secrets (it has none).
    settings.logger.error(
      { audit_event_id: event.id, err_name: (error as Error)?.name },
      'audit write failed',
    );
    throw new Error('the audit record could not be written; the call is refused');
  }
}

function tenantOf(claims: Readonly<Record<string, unknown>>): string | null {
  return typeof claims.tenant === 'string'
    ? claims.tenant
    : typeof claims.tid === 'string'
      ? claims.tid
      : null;
}

function toolContext(
  ctx: ServerContext,
  boundary: BoundaryRequestContext,
  minted: MintedEnvelope,
  tool: string,
  hop: HopSpan,
): ToolContext {
  const { envelope } = minted;
  const { logger, downstream } = settingsOf(boundary);
  const progressToken = ctx.mcpReq._meta?.progressToken;
  let log: Logger | undefined;
  let client: DownstreamClient | undefined;
  return Object.freeze({
    signal: ctx.mcpReq.signal,
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
          subjectToken: sealedSubjectToken(boundary),
          subjectIssuer: boundary.claims.issuer,
          hop,
        },
        downstream,
      );
      return client;
    },
    async progress(progress: number, total?: number, message?: string) {
      if (progressToken === undefined) return;
      await ctx.mcpReq.notify({
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
      `registerIdentityTool(${name}): input ${undeclared.join(', ')} looks like identity; identity comes from the envelope. ` +
        'If the tool really takes it (e.g. an admin lookup), list it in identityLikeInputAllowed.',
    );
  }
  checkedSchemas.set(config.inputSchema, allowList);
}
