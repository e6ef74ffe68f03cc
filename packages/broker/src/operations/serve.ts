import type { IncomingMessage, ServerResponse } from 'node:http';
import { type OperationsOptions, serveOperations } from '@baton/resource-server/operations';

/**
 * Puts `/healthz`, `/readyz` and `/metrics` in front of the broker's oidc-provider handler. The three
 * paths are the broker's own (oidc-provider serves nothing there).
 */
export function withOperations(
  handler: (request: IncomingMessage, response: ServerResponse) => unknown,
  options: OperationsOptions,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    serveOperations(request, response, options).then(
      (served) => {
        if (!served) handler(request, response);
      },
      () => {
        if (!response.headersSent) response.writeHead(500).end();
      },
    );
  };
}
