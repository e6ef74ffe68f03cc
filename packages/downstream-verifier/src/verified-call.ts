import { type AuditReason, type AuditSink, newSpanId } from '@baton/audit';
import {
  type BearerError,
  bearerErrorResponse,
  type ClientCertificate,
  type MalformedRequest,
  requestAddress,
} from '@baton/resource-server';
import { recordApiCall } from './audit.ts';
import type { DownstreamIdentity } from './identity.ts';
import { type DownstreamVerifier, revokedCallIdentity } from './verify.ts';

export interface HandlerOptions {
  verifier: DownstreamVerifier;
  /** Scopes the person must hold for this handler. */
  requiredScopes?: readonly string[];
  /**
   * Records one event per served call, written before the answer leaves: a write failure fails the
   * call (500, the handler's answer discarded), never a silent loss.
   */
  audit?: AuditSink;
  /** RFC 9728 metadata URL for the challenge, if the API publishes one. */
  resourceMetadataUrl?: string;
  /** Told when the audit record could not be written (the call is then answered 500). Default: nobody. */
  onerror?: (error: Error) => void;
}

/** A call as every adapter describes it to the core: nothing runtime-specific. */
export interface VerifierCall {
  method: string;
  /** The request path without its query, as the audit names the operation. */
  path: string;
  headers: Headers;
  /**
   * The TLS client certificate the connection's handshake verified (`clientCertificateOf(socket)`),
   * for certificate-bound tokens (RFC 8705 §3). Adapters fill it; never read from a header.
   */
  clientCertificate?: ClientCertificate | undefined;
}

/** What the handler answered: the status the audit records, and the adapter's answer to release. */
export interface HandlerAnswer<A> {
  status: number;
  answer: A;
}

/**
 * The core's verdict: serve the handler's answer, or send `response` instead — a refusal before the
 * handler ran, or a 500 because the audit record could not be written (`discarded` is then the
 * handler's answer, for the adapter to release its resources).
 */
export type VerifiedCallResult<A> =
  | { served: true; answer: A }
  | { served: false; response: Response; discarded?: A };

/**
 * The one place that decides a downstream call, whichever adapter carried it: verify (401/403 with
 * the challenge on refusal; the handler does not run), run the handler, write the audit record, then
 * let the answer go — or, if the record could not be written, answer 500 instead of the handler.
 * A handler that throws is audited as a 500 and its error rethrown for the runtime to answer.
 * Adapters translate their request into a `VerifierCall` and the verdict into their response.
 *
 * @example
 * const result = await serveVerifiedCall(options, call, async (identity) => {
 *   const response = await handler(request, identity);
 *   return { status: response.status, answer: response };
 * });
 * return result.served ? result.answer : result.response;
 */
export async function serveVerifiedCall<A>(
  options: HandlerOptions,
  call: VerifierCall,
  handle: (identity: DownstreamIdentity) => Promise<HandlerAnswer<A>>,
): Promise<VerifiedCallResult<A>> {
  const started = performance.now();
  let identity: DownstreamIdentity;
  try {
    identity = await options.verifier.verify(call.headers, options.requiredScopes ?? [], {
      method: call.method,
      path: call.path,
      clientCertificate: call.clientCertificate,
    });
  } catch (error) {
    const refusedFor =
      typeof error === 'object' && error !== null ? revokedCallIdentity.get(error) : undefined;
    // A refusal because of a revocation is audited (who was stopped, where, why); its record failing to
    // be written changes nothing for the caller, who is refused either way, but the operator is told.
    if (refusedFor && options.audit) {
      try {
        await recordApiCall(
          options.audit,
          options.verifier.audience,
          { ...refusedFor, spanId: newSpanId() },
          `${call.method} ${call.path}`,
          (error as BearerError).status,
          started,
          (error as BearerError).reason as AuditReason,
        );
      } catch (auditError) {
        reportAuditFailure(options, auditError);
      }
    }
    return { served: false, response: refusalResponse(error, options) };
  }
  let answered: HandlerAnswer<A>;
  try {
    answered = await handle(identity);
  } catch (error) {
    await audited(options, identity, call, 500, started);
    throw error;
  }
  if (!(await audited(options, identity, call, answered.status, started))) {
    return { served: false, response: auditFailedResponse(), discarded: answered.answer };
  }
  return { served: true, answer: answered.answer };
}

/**
 * The `VerifierCall` of a web `Request`, or the 4xx refusal when a fetch runtime hands over a Host or
 * URL nothing can be built from. Never throws.
 */
export function callOfRequest(
  request: Request,
  clientCertificate?: ClientCertificate,
): VerifierCall | MalformedRequest {
  const address = requestAddress(request);
  if ('reason' in address) return address;
  return {
    method: request.method,
    path: address.url.pathname,
    headers: request.headers,
    ...(clientCertificate ? { clientCertificate } : {}),
  };
}

/** Writes the call's audit record; `false` (the operator told) when it could not be written. */
async function audited(
  options: HandlerOptions,
  identity: DownstreamIdentity,
  call: VerifierCall,
  status: number,
  started: number,
): Promise<boolean> {
  if (!options.audit) return true;
  try {
    const operation = `${call.method} ${call.path}`;
    await recordApiCall(options.audit, options.verifier.audience, identity, operation, status, started);
    return true;
  } catch (error) {
    reportAuditFailure(options, error);
    return false;
  }
}

function reportAuditFailure(options: HandlerOptions, error: unknown): void {
  try {
    options.onerror?.(error instanceof Error ? error : new Error(String(error)));
  } catch {
    // Reporting is best effort; the call fails closed either way.
  }
}

function refusalResponse(error: unknown, options: HandlerOptions): Response {
  return bearerErrorResponse(error, {
    ...(options.resourceMetadataUrl ? { resourceMetadataUrl: options.resourceMetadataUrl } : {}),
    ...(options.requiredScopes ? { scopes: options.requiredScopes } : {}),
    ...options.verifier.challenge,
  });
}

function auditFailedResponse(): Response {
  return Response.json(
    { error: 'server_error', error_description: 'the call could not be audited' },
    { status: 500, headers: { 'cache-control': 'no-store' } },
  );
}
