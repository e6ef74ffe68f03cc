import type { SharedSignalsTransmitter } from '@baton/shared-signals';
import type { FetchEndpoint } from '../endpoints/fetch-endpoint.ts';

/** The largest body the transmitter reads (stream configuration, poll acknowledgements). */
const MAX_BODY_BYTES = 1_048_576;

/**
 * The Shared Signals transmitter as one of the broker's fetch endpoints (`/.well-known/ssf-configuration`,
 * `/ssf/…`), mounted by `fetchEndpointMiddleware`. Translation only: the transmitter decides.
 */
export function sharedSignalsEndpoint(transmitter: SharedSignalsTransmitter): FetchEndpoint {
  return {
    handles: (path) => transmitter.handles(path),
    handle: (request) => transmitter.handle(request),
    maxBodyBytes: MAX_BODY_BYTES,
    tooLarge: () =>
      Response.json(
        { error: 'invalid_request', error_description: 'request body too large' },
        { status: 413, headers: { 'cache-control': 'no-store' } },
      ),
  };
}
