import type { AuditSink } from '@baton/audit';
import { bearerErrorResponse, malformedRequestResponse, requestAddress } from '@baton/resource-server';
import { recordApiCall } from './audit.ts';
import type { DownstreamIdentity } from './identity.ts';
import type { DownstreamVerifier } from './verify.ts';

export interface HandlerOptions {
  verifier: DownstreamVerifier;
  /** Scopes the person must hold for this handler. */
  requiredScopes?: readonly string[];
  /** Records one event per served call; a write failure fails the call (no silent loss). */
  audit?: AuditSink;
  /** RFC 9728 metadata URL for the challenge, if the API publishes one. */
  resourceMetadataUrl?: string;
}

/**
 * A fetch-style handler that runs only for verified calls and receives who the call is for.
 *
 * @example
 * export default { fetch: withDownstreamIdentity({ verifier, requiredScopes: ['orders:read'] },
 *   async (request, identity) => Response.json(await ordersOf(identity.user))) };
 */
export function withDownstreamIdentity(
  options: HandlerOptions,
  handler: (request: Request, identity: DownstreamIdentity) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const started = performance.now();
    // A request from a fetch runtime may carry a Host or URL nothing can be built from: 400, not a throw.
    const address = requestAddress(request);
    if ('reason' in address) return malformedRequestResponse(address);
    let identity: DownstreamIdentity;
    try {
      identity = await options.verifier.verify(request.headers, options.requiredScopes ?? []);
    } catch (error) {
      return bearerErrorResponse(error, {
        ...(options.resourceMetadataUrl ? { resourceMetadataUrl: options.resourceMetadataUrl } : {}),
        ...(options.requiredScopes ? { scopes: options.requiredScopes } : {}),
      });
    }
    const response = await handler(request, identity);
    if (options.audit) {
      const operation = `${request.method} ${address.url.pathname}`;
      await recordApiCall(
        options.audit,
        options.verifier.audience,
        identity,
        operation,
        response.status,
        started,
      );
    }
    return response;
  };
}
