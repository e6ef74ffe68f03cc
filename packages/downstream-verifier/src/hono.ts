import { malformedRequestResponse } from '@baton/resource-server';
import { clientCertificateOf } from '@baton/resource-server/node';
import type { MiddlewareHandler } from 'hono';
import type { DownstreamIdentity } from './identity.ts';
import { callOfRequest, type HandlerOptions, serveVerifiedCall } from './verified-call.ts';

/** The Hono environment `downstreamIdentity()` provides: `c.get('baton')` is who the call is for. */
export interface DownstreamIdentityEnv {
  Variables: { baton: DownstreamIdentity };
}

/**
 * Hono middleware: verifies the call and sets `c.get('baton')` for the handlers that follow. The
 * adapter translates; `serveVerifiedCall` decides: refusals are answered here, and the handlers'
 * `Response` is returned only once the audit record is written — a failed write answers 500 in its
 * place. A Host or URL nothing can be built from is answered 400. On `@hono/node-server` over HTTPS,
 * the client certificate the handshake verified goes to the verifier (certificate-bound tokens).
 *
 * @example
 * app.get('/orders', downstreamIdentity({ verifier, requiredScopes: ['orders:read'], audit }), (c) =>
 *   c.json(ordersOf(c.get('baton').user)));
 */
export function downstreamIdentity(options: HandlerOptions): MiddlewareHandler<DownstreamIdentityEnv> {
  return async (c, next) => {
    // On `@hono/node-server`, `c.env.incoming` is the Node request: its TLS socket has the certificate.
    const incoming = (c.env as { incoming?: { socket?: unknown } } | undefined)?.incoming;
    const call = callOfRequest(c.req.raw, clientCertificateOf(incoming?.socket));
    if ('reason' in call) return malformedRequestResponse(call);
    let handled = false;
    const result = await serveVerifiedCall(options, call, async (identity) => {
      c.set('baton', identity);
      handled = true;
      await next();
      return { status: c.res.status, answer: c.res };
    });
    if (result.served) return;
    if (!handled) return result.response;
    await result.discarded?.body?.cancel().catch(() => {});
    // Cleared first: Hono would otherwise copy the handler's headers onto the replacement.
    c.res = undefined;
    c.res = result.response;
  };
}
