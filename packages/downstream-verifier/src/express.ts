import { nodeRequestGuard } from '@baton/resource-server/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { DownstreamIdentity } from './identity.ts';
import { callOfNodeRequest, holdAnswer } from './node/held-answer.ts';
import type { NodeHandlerOptions } from './node.ts';
import { serveVerifiedCall } from './verified-call.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `downstreamIdentity()`: who the call is for. */
    baton?: DownstreamIdentity;
  }
}

/**
 * Express middleware: verifies the call and sets `req.baton` for the handlers that follow. The
 * adapter translates; `serveVerifiedCall` decides: refusals are answered here, and the answer the
 * following handlers send (an error handler's included) is held until the audit record is written —
 * a failed write answers 500 in its place. Malformed requests (two `Authorization` headers, of which
 * Node would keep the first; a bad or duplicated Host; TRACE) are answered 4xx by Baton's Node request
 * checks first, and reported to `logger` when given.
 *
 * @example
 * app.get('/orders', downstreamIdentity({ verifier, requiredScopes: ['orders:read'], audit }), (req, res) =>
 *   res.json(ordersOf(req.baton!.user)));
 */
export function downstreamIdentity(options: NodeHandlerOptions): RequestHandler {
  const wellFormed = nodeRequestGuard(options);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!wellFormed(req, res)) return;
    const held = holdAnswer(res);
    serveVerifiedCall(options, callOfNodeRequest(req), async (identity) => {
      req.baton = identity;
      next();
      // The record needs only the status: written as soon as the answer starts, which then goes out.
      // Whatever runs after the answer started (an error handler, a second send) finds it under way
      // (`headersSent`), as it would without the hold.
      return { status: await held.started, answer: held };
    }).then(
      (result) => (result.served ? result.answer.release() : held.replace(result.response)),
      (error: unknown) => {
        held.release();
        next(error);
      },
    );
  };
}
