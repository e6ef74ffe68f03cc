import { BearerError, bearerErrorResponse } from '@baton/resource-server';
import { nodeRequestGuard, type RefusalLogger } from '@baton/resource-server/node';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { recordApiCall } from './audit.ts';
import type { HandlerOptions } from './handler.ts';
import type { DownstreamIdentity } from './identity.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `downstreamIdentity()`: who the call is for. */
    baton?: DownstreamIdentity;
  }
}

/**
 * Express middleware: verifies the call, sets `req.baton`, and audits the response when it finishes.
 * The adapter translates; `downstreamVerifier` decides. Malformed requests (two `Authorization`
 * headers, of which Node would keep the first; a bad or duplicated Host; TRACE) are answered 4xx by
 * Baton's Node request checks first, and reported to `logger` when given.
 *
 * @example
 * app.get('/orders', downstreamIdentity({ verifier, requiredScopes: ['orders:read'] }), (req, res) =>
 *   res.json(ordersOf(req.baton!.user)));
 */
export function downstreamIdentity(options: HandlerOptions & { logger?: RefusalLogger }): RequestHandler {
  const wellFormed = nodeRequestGuard({ logger: options.logger });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!wellFormed(req, res)) return;
    const started = performance.now();
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    options.verifier.verify(headers, options.requiredScopes ?? []).then(
      (identity) => {
        req.baton = identity;
        if (options.audit) {
          const audit = options.audit;
          res.on('finish', () => {
            recordApiCall(
              audit,
              options.verifier.audience,
              identity,
              `${req.method} ${req.path}`,
              res.statusCode,
              started,
            ).catch((error) => req.socket.emit('error', error));
          });
        }
        next();
      },
      async (error: unknown) => {
        if (!(error instanceof BearerError)) return next(error);
        // The same answer the fetch-style handler gives: one place decides status, challenge and body.
        const answer = bearerErrorResponse(error, {
          ...(options.resourceMetadataUrl ? { resourceMetadataUrl: options.resourceMetadataUrl } : {}),
          ...(options.requiredScopes ? { scopes: options.requiredScopes } : {}),
        });
        res.status(answer.status);
        answer.headers.forEach((value, name) => {
          res.set(name, value);
        });
        res.send(await answer.text());
      },
    );
  };
}
