import { sharedSignalsAudience } from '@baton/broker';
import { type ServiceCredentials, serviceTokenSource } from '@baton/broker-client';
import { type ConnectedRevocationFeed, connectRevocationFeed } from '@baton/shared-signals';

/**
 * One hop's revocation feed: a Shared Signals stream at the broker (RFC 8936 poll), authenticated by
 * the hop's own client-credentials token for the broker's `/ssf` audience. Fresh when this resolves;
 * a hop that loses the broker for longer than 30 s (above the broker's 25 s long poll) refuses calls
 * (503) until it hears from it again.
 */
export function receiveRevocations(
  brokerIssuer: string,
  credentials: ServiceCredentials,
  onerror?: (error: unknown) => void,
  /** How the hop reaches the broker: as itself, over its workload certificate. Default: the global fetch. */
  fetchAsHop?: typeof globalThis.fetch,
): Promise<ConnectedRevocationFeed> {
  return connectRevocationFeed({
    transmitter: brokerIssuer,
    getAccessToken: serviceTokenSource(brokerIssuer, credentials, {
      resource: sharedSignalsAudience(brokerIssuer),
      ...(fetchAsHop ? { transport: { fetch: fetchAsHop } } : {}),
    }),
    ...(fetchAsHop ? { fetch: fetchAsHop } : {}),
    delivery: 'poll',
    maxStalenessMs: 30_000,
    ...(onerror ? { onerror } : {}),
  });
}
