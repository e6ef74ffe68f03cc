import {
  type AuditMode,
  type AuditReason,
  type AuditSink,
  auditEventOf,
  type Confirmation,
  continueTrace,
  type TokenRequestReason,
  type TraceLink,
  traceparent,
} from '@baton/audit';
import { BearerError } from '@baton/resource-server';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { ProofRefusal } from '../sender-constraint/refusal.ts';
import { endpointTrace } from '../telemetry.ts';
import type { GrantChecks, Known } from './checks.ts';
import { batonMetadataOf, type GrantRequest, grantRequest } from './grant-request.ts';
import { scopesOf } from './parameters.ts';
import { Refusal } from './refusal.ts';

/** Where the broker writes what a response must not carry: refusal detail, unexpected failures. */
export interface BrokerLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const SILENT_LOGGER: BrokerLogger = { warn() {}, error() {} };

/** The trace one token request files its audit event under (see `continueTrace`). */
export interface RequestTrace {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  link?: TraceLink;
}

/**
 * The incoming `traceparent` is joined only for a client the operator marked `baton_trace_trusted`
 * (static configuration or an approval): anyone else could pick another person's trace id and file
 * its requests under it. Otherwise the request gets a fresh trace that links to what it sent.
 *
 * Only for a client that authenticated: oidc-provider sets `ctx.oidc.client` when it looks the client
 * up, before checking its credentials. Grant handlers run after authentication; the grant-type refusal
 * is audited only when `clientAuthenticationErrors` has established the same.
 */
export function traceOf(ctx: KoaContextWithOIDC): RequestTrace {
  const trusted = ctx.oidc.client ? batonMetadataOf(ctx.oidc.client).traceTrusted : false;
  return endpointTrace(ctx, continueTrace(ctx.get('traceparent'), trusted));
}

/** The `traceparent` for calls the broker makes while serving this request. */
export function onwardTraceparent(trace: RequestTrace): string {
  return traceparent(trace.traceId, trace.spanId);
}

/** What the audit event of one token request says, as far as the request got. */
export interface AuditedRequest {
  initiator: { sub: string; tenant: string | null };
  agent: string;
  audience: string | undefined;
  mode: AuditMode;
  chain: readonly string[];
  requested: readonly string[] | undefined;
  /** The client's workload identity (SPIFFE ID) from its verified client certificate. */
  workload?: string | undefined;
}

export interface AuditedGrantDependencies {
  /** The broker's issuer: the audit events' `component`. */
  issuer: string;
  audit: AuditSink;
  logger: BrokerLogger;
}

export interface Issued {
  body: Record<string, unknown>;
  scopes: readonly string[];
  /** The platform user a connector mapped the person to, for the audit event (never a token). */
  platformSubject?: string;
  /**
   * The `cnf` the issued token carries (thumbprints), as the issuer bound it: what the audit records,
   * never the request's proof or certificate (a token that cannot be bound has none).
   */
  cnf?: Confirmation | undefined;
}

/**
 * The frame every grant of the broker runs in: its checks in order, then its issuer; one audit event
 * per request, allowed or refused, in the same shape (`token.exchange`, with the mode, chain, audience,
 * scopes asked and granted, a stable reason); refusal detail goes to the log, the client gets the RFC
 * error with a public description.
 *
 * A refusal is audited with everything the checks before it established: `describe` turns that into
 * the event.
 */
export function auditedGrant<State extends GrantRequest>(
  deps: AuditedGrantDependencies,
  grant: {
    checks: GrantChecks<GrantRequest, State>;
    issue(state: NoInfer<State>): Promise<Issued>;
    describe(known: Known<GrantRequest, NoInfer<State>>): AuditedRequest;
  },
) {
  return async function handle(ctx: KoaContextWithOIDC): Promise<void> {
    const started = performance.now();
    const request = grantRequest(ctx, traceOf(ctx));
    const { clientId } = request;
    let known = request as Known<GrantRequest, State>;
    const write = (
      outcome: 'ok' | 'denied' | 'error',
      reason: AuditReason | undefined,
      scopes: readonly string[],
    ) =>
      // `known.trace`: a check may file the event under a trace it verified (a home broker's grant).
      writeEvent(deps, grant.describe(known), known.trace, started, outcome, reason, scopes);
    let issued: Issued;
    try {
      const state = await grant.checks.run(request, (reached) => {
        known = reached;
      });
      issued = await grant.issue(state);
    } catch (error) {
      const reason: AuditReason =
        error instanceof Refusal || error instanceof ProofRefusal
          ? error.reason
          : error instanceof BearerError
            ? error.reason
            : 'internal_error';
      const refused = error instanceof Refusal || error instanceof ProofRefusal ? error : undefined;
      const fields = { reason, client_id: clientId, trace_id: known.trace.traceId };
      if (refused) {
        deps.logger.warn(
          refused.detail ? { ...fields, detail: refused.detail } : fields,
          'token request refused',
        );
      } else {
        deps.logger.error(
          { ...fields, err_name: (error as Error)?.name, err_message: (error as Error)?.message },
          'token request failed',
        );
      }
      await write(refused ? 'denied' : 'error', reason, []);
      // Rate limits (issue #12 item 6): oidc-provider's error handler keeps headers set here.
      if (error instanceof Refusal && error.retryAfterSeconds !== undefined)
        ctx.set('Retry-After', String(error.retryAfterSeconds));
      throw publicError(error);
    }
    await writeEvent(
      deps,
      grant.describe(known),
      known.trace,
      started,
      'ok',
      undefined,
      issued.scopes,
      issued.platformSubject,
      issued.cnf,
    );
    ctx.body = issued.body;
  };
}

/** What the client is told: the RFC error and its public description, never the private detail. */
function publicError(error: unknown): unknown {
  if (error instanceof Refusal || error instanceof ProofRefusal) return error.oauthError;
  if (error instanceof BearerError && error.status === 503) {
    return new errors.InvalidRequest(
      'a trusted issuer could not be reached to validate the subject token; try again later',
      503,
    );
  }
  return error;
}

async function writeEvent(
  deps: AuditedGrantDependencies,
  request: AuditedRequest,
  trace: RequestTrace,
  started: number,
  outcome: 'ok' | 'denied' | 'error',
  reason: AuditReason | undefined,
  granted: readonly string[],
  platformSubject?: string,
  cnf?: Confirmation,
): Promise<void> {
  await deps.audit.write(
    auditEventOf(
      {
        actor: request.initiator,
        agent: request.agent,
        scopes: granted,
        delegation: { mode: request.mode, chain: request.chain },
      },
      {
        action: 'token.exchange',
        component: deps.issuer,
        target: { type: 'audience', name: request.audience ?? '(none)' },
        outcome,
        reason,
        started,
        ...(request.requested ? { scopesRequested: request.requested } : {}),
        ...(platformSubject !== undefined ? { platformSubject } : {}),
        ...(cnf ? { cnf } : {}),
        ...(request.workload ? { workloadId: request.workload } : {}),
        trace,
      },
    ),
  );
}

/**
 * Audits a token request refused before any grant ran: the client asked for a grant type it is not
 * registered for (for `client_credentials`: one the operator did not approve).
 */
export async function auditGrantTypeRefusal(
  deps: AuditedGrantDependencies,
  ctx: KoaContextWithOIDC,
  mode: AuditMode,
  reason: TokenRequestReason,
): Promise<void> {
  const started = performance.now();
  const clientId = ctx.oidc.client!.clientId;
  const params = ctx.oidc.params as Record<string, unknown>;
  const trace = traceOf(ctx);
  deps.logger.warn({ reason, client_id: clientId, trace_id: trace.traceId }, 'token request refused');
  const scope = typeof params.scope === 'string' ? params.scope : undefined;
  await writeEvent(
    deps,
    {
      initiator: { sub: mode === 'service_identity' ? clientId : '(unverified)', tenant: null },
      agent: clientId,
      // Not looked up: what the client named is not written to the audit as if it were an audience.
      audience: undefined,
      mode,
      chain: [clientId],
      requested: scope === undefined ? undefined : scopesOf(scope),
    },
    trace,
    started,
    'denied',
    reason,
    [],
  );
}
