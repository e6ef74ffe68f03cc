import { type ClientCertificate, malformedRequestResponse } from '@baton/resource-server';
import type { DownstreamIdentity } from './identity.ts';
import { callOfRequest, type HandlerOptions, serveVerifiedCall } from './verified-call.ts';

export type { HandlerOptions } from './verified-call.ts';

/**
 * A fetch-style handler that runs only for verified calls and receives who the call is for. The
 * adapter translates; `serveVerifiedCall` decides (refusals, audit before the answer leaves).
 *
 * @example
 * export default { fetch: withDownstreamIdentity({ verifier, requiredScopes: ['orders:read'] },
 *   async (request, identity) => Response.json(await ordersOf(identity.user))) };
 */
export function withDownstreamIdentity(
  options: HandlerOptions,
  handler: (request: Request, identity: DownstreamIdentity) => Response | Promise<Response>,
): (request: Request, context?: { clientCertificate?: ClientCertificate }) => Promise<Response> {
  return async (request, context) => {
    // A request from a fetch runtime may carry a Host or URL nothing can be built from: 400, not a throw.
    // The client certificate is the runtime's to pass (from the TLS connection it terminated).
    const call = callOfRequest(request, context?.clientCertificate);
    if ('reason' in call) return malformedRequestResponse(call);
    const result = await serveVerifiedCall(options, call, async (identity) => {
      const response = await handler(request, identity);
      return { status: response.status, answer: response };
    });
    if (result.served) return result.answer;
    // The handler's body is never sent: let its source go (an upstream stream, a file).
    await result.discarded?.body?.cancel().catch(() => {});
    return result.response;
  };
}
