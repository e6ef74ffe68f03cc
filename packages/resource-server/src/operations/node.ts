import type { IncomingMessage, ServerResponse } from 'node:http';
import { answerOperations, type OperationsOptions } from './endpoints.ts';

/**
 * Serves `/healthz`, `/readyz` and `/metrics` on a node:http request; resolves `false` (and writes
 * nothing) for any other path, so the caller's own handler runs.
 *
 * @example
 * server.on('request', async (req, res) => {
 *   if (!(await serveOperations(req, res, { checks, registry }))) app(req, res);
 * });
 */
export async function serveOperations(
  request: IncomingMessage,
  response: ServerResponse,
  options: OperationsOptions,
): Promise<boolean> {
  const pathname = (request.url ?? '/').split('?', 1)[0]!;
  const answer = await answerOperations(request.method ?? 'GET', pathname, options);
  if (!answer) return false;
  response.writeHead(answer.status, {
    'content-type': answer.contentType,
    'cache-control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : answer.body);
  return true;
}
