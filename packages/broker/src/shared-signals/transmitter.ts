import { SharedSignalsTransmitter, type SharedSignalsTransmitterOptions } from '@baton/shared-signals';
import { importJWK, type JWTVerifyGetKey } from 'jose';
import type { ClientMetadata, JWK } from 'oidc-provider';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { receiverAuthenticator } from './receiver-token.ts';

/** `startBroker({ sharedSignals })`: the broker as an OpenID Shared Signals transmitter. */
export interface BrokerSharedSignalsOptions
  extends Partial<
    Pick<
      SharedSignalsTransmitterOptions,
      | 'store'
      | 'currentRevocations'
      | 'subjectIssuer'
      | 'fetch'
      | 'maxQueueLength'
      | 'maxStreamsPerReceiver'
      | 'inactivityTimeoutSeconds'
      | 'longPollMs'
      | 'pollCheckIntervalMs'
      | 'pushTimeoutMs'
      | 'retry'
      | 'onSetRefused'
    >
  > {
  /**
   * The static clients that may hold streams. Default: every client in `clients` whose `grant_types`
   * include `client_credentials`. Each must be a static client.
   */
  receivers?: readonly string[];
  /** `https` hosts SETs may be pushed to (a receiver's `endpoint_url`). Default: none (poll only). */
  pushAllowedHosts?: readonly string[];
  /** Replaces the `pushAllowedHosts` rule (tests pushing to loopback over http). */
  pushEndpointAllowed?: (url: URL) => boolean;
}

export interface BrokerTransmitterInput {
  issuer: string;
  signingJwk: JWK;
  keys: JWTVerifyGetKey;
  registry: TokenRegistry;
  clients: readonly ClientMetadata[];
  options: BrokerSharedSignalsOptions;
  onError: (error: unknown) => void;
}

/**
 * The broker's transmitter: SETs signed with the broker's signing key (so they verify against the
 * JWKS it already publishes), receivers authenticated by a broker access token for `<issuer>/ssf`
 * (see `receiverAuthenticator`), streams in `options.store` (in memory unless given: pass
 * `openStores(…).sharedSignalsStore()` to share them between instances).
 */
export async function brokerTransmitter(input: BrokerTransmitterInput): Promise<SharedSignalsTransmitter> {
  const { issuer, options } = input;
  const staticClients = new Map(input.clients.map((client) => [String(client.client_id), client]));
  const receivers =
    options.receivers ??
    [...staticClients.values()]
      .filter((client) => client.grant_types?.includes('client_credentials'))
      .map((client) => String(client.client_id));
  for (const receiver of receivers) {
    if (!staticClients.has(receiver)) {
      throw new TypeError(`startBroker: sharedSignals.receivers: ${receiver} is not a static client`);
    }
  }
  const pushHosts = new Set(options.pushAllowedHosts ?? []);
  const {
    receivers: _receivers,
    pushAllowedHosts: _hosts,
    pushEndpointAllowed,
    ...transmitterOptions
  } = options;
  return new SharedSignalsTransmitter({
    ...transmitterOptions,
    currentRevocations: transmitterOptions.currentRevocations ?? (async () => []),
    issuer,
    jwksUri: `${issuer.replace(/\/$/, '')}/jwks`,
    key: {
      key: (await importJWK(input.signingJwk as never, 'ES256')) as CryptoKey,
      kid: String(input.signingJwk.kid),
      alg: 'ES256',
    },
    authenticate: receiverAuthenticator({
      issuer,
      keys: input.keys,
      registry: input.registry,
      receivers: new Set(receivers),
    }),
    pushEndpointAllowed:
      pushEndpointAllowed ?? ((url) => url.protocol === 'https:' && pushHosts.has(url.host)),
    onError: input.onError,
  });
}
