import type { SharedSignalsTransmitter } from '@baton/shared-signals';
import { webRequestOf } from '@baton/shared-signals/node';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Mounts the Shared Signals transmitter in the broker's Koa application (oidc-provider): requests to
 * its paths (`/.well-known/ssf-configuration`, `/ssf/…`) are translated to a web `Request`, answered by
 * `transmitter.handle`, and the `Response` copied back; every other request goes on to oidc-provider.
 * Translation only: the transmitter decides.
 */
export function sharedSignalsRoutes(transmitter: SharedSignalsTransmitter) {
  return async function sharedSignals(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    if (!transmitter.handles(ctx.path)) return next();
    const abort = new AbortController();
    ctx.res.once('close', () => abort.abort());
    const request = await webRequestOf(ctx.req, abort.signal);
    if (request === 'too_large') {
      ctx.status = 413;
      ctx.body = { error: 'invalid_request', error_description: 'request body too large' };
      return;
    }
    const response = await transmitter.handle(request);
    ctx.status = response.status;
    for (const [name, value] of response.headers) ctx.set(name, value);
    const body = Buffer.from(await response.arrayBuffer());
    if (body.length) ctx.body = body;
  };
}
