import {
  type AuditEvent,
  type AuditOutcome,
  type AuditSink,
  carriesTraceContext,
  continueTrace,
  endHopSpan,
  type HopSpan,
  newSpanId,
  startHopSpan,
  type TraceContinuation,
  type TraceLink,
} from '@baton/audit';
import { TOKEN_EXCHANGE_GRANT } from '@baton/broker-client';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { batonMetadataOf } from './grants/grant-request.ts';

/** OpenTelemetry's instrumentation scope for the broker's spans. */
const TRACER = '@baton/broker';

/** The endpoints that get a span: where clients authenticate and tokens are issued, inspected, revoked. */
const TRACED_ROUTES = new Set(['token', 'introspection', 'revocation']);

/** The grant types the broker serves: a span names one of these, or `other` (never the client's string). */
const KNOWN_GRANT_TYPES: ReadonlySet<unknown> = new Set([TOKEN_EXCHANGE_GRANT, 'client_credentials']);

/** Where one request's span waits in Koa's per-request `ctx.state`, under a key nobody else can name. */
const REQUEST_SPAN = Symbol('baton.broker.request-span');

/** The ids a token request files its audit event under: the request span's own. */
export interface EndpointTrace {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  link?: TraceLink;
}

/**
 * One request at a traced endpoint. Its span starts when its trace is decided: by the grant, once the
 * client is authenticated (only a trusted client's `traceparent` is joined), or at the end for a request
 * no grant ran for. It starts at the request's arrival either way.
 */
class RequestSpan {
  readonly startTime = Date.now();
  hop: HopSpan | undefined;
  /** What the request's audit event recorded, for the span to say the same. */
  audited: { outcome: AuditOutcome; reason: string | undefined } | undefined;

  readonly inFlight: Map<string, RequestSpan>;

  constructor(inFlight: Map<string, RequestSpan>) {
    this.inFlight = inFlight;
  }

  start(trace: TraceContinuation, ctx: KoaContextWithOIDC): HopSpan {
    if (this.hop) return this.hop;
    this.hop = startHopSpan(TRACER, 'token request', 'server', trace, {
      startTime: this.startTime,
      // With no trace context from the caller (no header any registered propagator reads), a span the
      // host made active is the broker's own; otherwise it is in a trace the caller chose.
      joinActive: !carriesTraceContext((header) => ctx.get(header) || null),
    });
    this.inFlight.set(this.hop.spanId, this);
    return this.hop;
  }
}

/**
 * The broker's OpenTelemetry spans, one per request at the token endpoint (token exchange, client
 * credentials), introspection and revocation, with the same trace id, span id and parent as the
 * request's audit event. Only `@opentelemetry/api`: without a registered SDK every call is a no-op,
 * and the audit keeps its own ids.
 *
 * Attributes name who and what (the person, the agent, the client, the delegation mode and chain, the
 * audience, the outcome and the audit reason code), taken from the audit event itself, so the span and
 * the audit cannot disagree. Never a token, an assertion or a secret: request parameters are not read.
 */
export class BrokerTelemetry {
  readonly #inFlight = new Map<string, RequestSpan>();

  /**
   * Koa middleware for the provider (`provider.use`, before the broker's other middleware): ends each
   * traced request's span with its HTTP status and outcome.
   */
  middleware() {
    const inFlight = this.#inFlight;
    return async function traceEndpoints(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
      const request = new RequestSpan(inFlight);
      (ctx.state as Record<symbol, unknown>)[REQUEST_SPAN] = request;
      let failed = false;
      try {
        await next();
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        endRequestSpan(ctx, request, failed);
      }
    };
  }

  /** `sink`, with each event's facts copied onto the span of the request that wrote it. */
  auditing(sink: AuditSink): AuditSink {
    const inFlight = this.#inFlight;
    return {
      write(event: AuditEvent): Promise<void> {
        const request = event.span_id === undefined ? undefined : inFlight.get(event.span_id);
        if (request?.hop) {
          request.audited = { outcome: event.outcome, reason: event.reason };
          if (request.hop.span.isRecording())
            request.hop.span.setAttributes({
              'enduser.id': event.initiator.sub,
              'baton.actor.tenant': event.initiator.tenant ?? '',
              'baton.agent.client_id': event.agent.client_id,
              'baton.delegation.mode': event.delegation_mode,
              'baton.delegation.chain': [...(event.chain ?? [])],
              'baton.audience': event.target.name,
              'baton.scopes': [...event.scopes],
            });
        }
        return sink.write(event);
      },
    };
  }
}

/**
 * The trace a token request's audit event is filed under: the request span's ids. The grant calls it
 * once the client is authenticated, with the trace `continueTrace` decided. Without the broker's
 * middleware (a grant run some other way) the ids are Baton's own.
 */
export function endpointTrace(ctx: KoaContextWithOIDC, trace: TraceContinuation): EndpointTrace {
  const request = (ctx.state as Record<symbol, unknown> | undefined)?.[REQUEST_SPAN];
  if (!(request instanceof RequestSpan)) return { ...trace, spanId: newSpanId() };
  const hop = request.start(trace, ctx);
  return {
    traceId: hop.traceId,
    spanId: hop.spanId,
    ...(hop.parentSpanId !== undefined ? { parentSpanId: hop.parentSpanId } : {}),
    ...(hop.link ? { link: hop.link } : {}),
  };
}

function endRequestSpan(ctx: KoaContextWithOIDC, request: RequestSpan, failed: boolean): void {
  const route = ctx.oidc?.route;
  if (request.hop === undefined && (route === undefined || !TRACED_ROUTES.has(route))) return;
  const status = failed ? 500 : ctx.status;
  // No grant decided the trace (a refused client, introspection, revocation): joined only for a
  // client the operator marked trusted that the endpoint served. Read from the client's own property,
  // not `metadata()`, which rebuilds the whole snake_case object.
  const hop =
    request.hop ??
    request.start(
      continueTrace(
        ctx.get('traceparent'),
        status < 400 && ctx.oidc?.client !== undefined && batonMetadataOf(ctx.oidc.client).traceTrusted,
      ),
      ctx,
    );
  request.inFlight.delete(hop.spanId);
  if (hop.span.isRecording()) {
    hop.span.updateName(`${ctx.method} ${ctx.path}`);
    const grantType =
      route === 'token' ? (ctx.oidc?.params as { grant_type?: unknown } | undefined)?.grant_type : undefined;
    hop.span.setAttributes({
      'http.request.method': ctx.method,
      'http.route': ctx.path,
      'http.response.status_code': status,
      ...(route ? { 'baton.oauth.endpoint': route } : {}),
      ...(typeof grantType === 'string'
        ? { 'baton.oauth.grant_type': KNOWN_GRANT_TYPES.has(grantType) ? grantType : 'other' }
        : {}),
      ...(ctx.oidc?.client ? { 'baton.oauth.client_id': ctx.oidc.client.clientId } : {}),
    });
  }
  if (request.audited) {
    endHopSpan(hop, request.audited.outcome, request.audited.reason);
    return;
  }
  const error = (ctx.body as { error?: unknown } | undefined)?.error;
  const reason = failed ? 'internal_error' : typeof error === 'string' ? error : undefined;
  endHopSpan(
    hop,
    status < 400 ? 'ok' : status < 500 ? 'denied' : 'error',
    status < 400 ? undefined : (reason ?? `http_${status}`),
  );
}
