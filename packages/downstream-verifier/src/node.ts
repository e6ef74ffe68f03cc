import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  answerInternalError,
  type NodeRequestListener,
  type NodeRequestListenerOptions,
  nodeRequestGuard,
} from '@baton/resource-server/node';
import type { DownstreamIdentity } from './identity.ts';
import { callOfNodeRequest, holdAnswer } from './node/held-answer.ts';
import { type HandlerOptions, serveVerifiedCall } from './verified-call.ts';

/** Options of the Node and Express adapters: the handler's, plus Baton's Node request checks. */
export type NodeHandlerOptions = HandlerOptions & Pick<NodeRequestListenerOptions, 'methods' | 'logger'>;

/** A `node:http` handler that runs only for verified calls; it answers on `response` as usual. */
export type NodeDownstreamHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  identity: DownstreamIdentity,
) => void | Promise<void>;

/**
 * A `node:http` request listener that runs `handler` only for verified calls and hands it who the
 * call is for. The adapter translates; `serveVerifiedCall` decides: refusals are answered here, and
 * the handler's answer is held until the audit record is written (a failed write answers 500 in its
 * place). Malformed requests (two `Authorization` headers, a bad or duplicated Host, TRACE) are
 * answered 4xx by Baton's Node request checks first, and reported to `logger` when given. A handler
 * that throws is answered 500 and reported to `onerror`.
 *
 * @example
 * http.createServer(downstreamIdentityListener({ verifier, requiredScopes: ['orders:read'], audit },
 *   (request, response, identity) => response.end(JSON.stringify(ordersOf(identity.user))))).listen(8080);
 */
export function downstreamIdentityListener(
  options: NodeHandlerOptions,
  handler: NodeDownstreamHandler,
): NodeRequestListener {
  const wellFormed = nodeRequestGuard(options);
  return (request, response) => {
    if (!wellFormed(request, response)) return;
    const held = holdAnswer(response);
    serveVerifiedCall(options, callOfNodeRequest(request), async (identity) => {
      await handler(request, response, identity);
      return { status: await held.started, answer: held };
    }).then(
      (result) => (result.served ? result.answer.release() : held.replace(result.response)),
      (error: unknown) => {
        held.release();
        answerInternalError(response, error, options.onerror);
      },
    );
  };
}
