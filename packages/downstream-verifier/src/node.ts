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
    let handling: Promise<void> | undefined;
    serveVerifiedCall(options, callOfNodeRequest(request), async (identity) => {
      handling = Promise.resolve().then(() => handler(request, response, identity));
      // The record needs only the status: it is written as soon as the handler starts to answer, and
      // the answer goes out then, so a handler that awaits its own response (a pipeline, 'finish')
      // is not held up by the hold. A handler that throws before answering is answered 500.
      return { status: await Promise.race([held.started, handling.then(() => held.started)]), answer: held };
    }).then(
      (result) => {
        if (!result.served) {
          handling?.catch((error: unknown) => reportOnce(options, error));
          return void held.replace(result.response);
        }
        result.answer.release();
        // A handler that fails after it started to answer: reported; what it sent stands, but an
        // unfinished answer ends the connection rather than leave the client waiting.
        handling?.catch((error: unknown) => {
          reportOnce(options, error);
          if (!response.writableEnded) response.destroy();
        });
      },
      (error: unknown) => {
        // The handler threw before it started to answer (an answer it started wins the race above):
        // nothing was held, and the 500 is the answer.
        held.release();
        answerInternalError(response, error, options.onerror);
      },
    );
  };
}

function reportOnce(options: NodeHandlerOptions, error: unknown): void {
  try {
    options.onerror?.(error instanceof Error ? error : new Error(String(error)));
  } catch {
    // Reporting is best effort.
  }
}
