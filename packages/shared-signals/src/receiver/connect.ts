import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from 'jose';
import { DELIVERY_METHODS, REVOCATION_EVENT_TYPES } from '../events.ts';
import type { RevocationList } from '../revocation.ts';
import { MemoryReplayGuard, type ReplayGuard } from '../set/replay-guard.ts';
import type { SetVerifyOptions } from '../set/verify.ts';
import type { ApplyOptions } from './apply.ts';
import { RevocationFeed, type StaleFallback } from './feed.ts';
import { PollClient } from './poll-client.ts';
import { createPushEndpoint, type PushHandler } from './push-endpoint.ts';
import {
  createStream,
  deleteStream,
  discoverTransmitter,
  requestVerification,
  type StreamClientOptions,
  type StreamConfiguration,
  StreamRequestFailed,
  type TransmitterMetadata,
} from './stream-client.ts';

export interface ConnectRevocationFeedOptions extends ApplyOptions {
  /** The transmitter's issuer URL (its `/.well-known/ssf-configuration` is read). */
  transmitter: string | URL;
  /** A bearer token for the transmitter's stream management and poll endpoints. */
  getAccessToken: () => string | Promise<string>;
  /** `'poll'` (RFC 8936, the receiver long-polls) or `{ push: endpointUrl }` (RFC 8935, serve `pushHandler` there). */
  delivery: 'poll' | { push: string };
  /** The audience this receiver expects in SETs. Default: the stream's `aud` as the transmitter assigns it. */
  audience?: string;
  /** Required: how long without word from the transmitter before the feed is stale, milliseconds. */
  maxStalenessMs: number;
  /** Default `'refuse'`. */
  whenStale?: StaleFallback;
  /** The list to fill (to share it with a Redis channel or the broker in process). */
  list?: RevocationList;
  /** Default: a `MemoryReplayGuard`. */
  replay?: ReplayGuard;
  /** Default: the transmitter's `jwks_uri` through `createRemoteJWKSet`. */
  keys?: JWTVerifyGetKey;
  /** Event types requested. Default: every revocation event type. */
  eventsRequested?: readonly string[];
  /**
   * Delete the stream at the transmitter on `close()`. Default `true`: each start creates a stream,
   * seeded with every revocation in force, so a stopped instance's stream is of no use to anyone and
   * would count against the receiver's stream limit until it expires.
   */
  deleteStreamOnClose?: boolean;
  /** Told of failed polls, refused SETs and failed verification requests (never a SET or token). */
  onerror?: (error: unknown) => void;
  /** For SET times; the feed keeps its own clock. */
  verifyOptions?: Pick<SetVerifyOptions, 'maxAgeSeconds' | 'clockSkewSeconds'>;
  fetch?: typeof fetch;
}

export interface ConnectedRevocationFeed {
  feed: RevocationFeed;
  metadata: TransmitterMetadata;
  stream: StreamConfiguration;
  /** For push delivery: the handler to serve at the push endpoint URL. */
  pushHandler?: PushHandler;
  /**
   * Asks the transmitter for a verification event now (SSF 1.0 §8.1.4.2); push delivery does this
   * every `maxStalenessMs / 3` on its own, the first time just after this function resolves.
   */
  requestVerification(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Discovers the transmitter, creates a stream for this receiver and wires it to a `RevocationFeed`:
 * for poll, a `PollClient` long-polls the endpoint the transmitter assigned; for push, the returned
 * `pushHandler` takes SETs (requiring the random `Authorization` value given to the transmitter in
 * `delivery.authorization_header`), and a verification event is requested every `maxStalenessMs / 3`
 * so a quiet stream still proves it is alive.
 *
 * @example
 * const { feed, close } = await connectRevocationFeed({
 *   transmitter: 'https://broker.example', getAccessToken, delivery: 'poll', maxStalenessMs: 30_000,
 * });
 */
export async function connectRevocationFeed(
  options: ConnectRevocationFeedOptions,
): Promise<ConnectedRevocationFeed> {
  if (!options || typeof options.getAccessToken !== 'function' || !options.transmitter || !options.delivery) {
    throw new TypeError(
      'connectRevocationFeed needs { transmitter, getAccessToken, delivery, maxStalenessMs }',
    );
  }
  if (typeof options.maxStalenessMs !== 'number') throw new TypeError('maxStalenessMs is required');
  const client: StreamClientOptions = { getAccessToken: options.getAccessToken, fetch: options.fetch };
  const metadata = await discoverTransmitter(options.transmitter, { fetch: options.fetch });
  const push = options.delivery === 'poll' ? undefined : options.delivery.push;
  const method = push ? DELIVERY_METHODS.push : DELIVERY_METHODS.poll;
  if (metadata.delivery_methods_supported.length && !metadata.delivery_methods_supported.includes(method)) {
    throw new StreamRequestFailed('transmitter metadata', 200, `no delivery by ${method}`);
  }
  const authorization = push ? `Bearer ${randomSecret()}` : undefined;
  const stream = await createStream(
    metadata,
    {
      delivery: push ? { method, endpoint_url: push, authorization_header: authorization } : { method },
      events_requested: [...(options.eventsRequested ?? REVOCATION_EVENT_TYPES)],
      description: 'Baton revocation receiver',
    },
    client,
  );
  const audience = options.audience ?? (Array.isArray(stream.aud) ? stream.aud[0] : stream.aud);
  if (typeof audience !== 'string' || audience === '')
    throw new StreamRequestFailed('stream creation', 200, 'the stream names no audience');
  const feed = new RevocationFeed({
    maxStalenessMs: options.maxStalenessMs,
    whenStale: options.whenStale,
    list: options.list,
  });
  const verify: SetVerifyOptions = {
    issuer: metadata.issuer,
    audience,
    keys:
      options.keys ??
      // Fetched as the stream is: e.g. over a dispatcher trusting the transmitter's internal CA.
      createRemoteJWKSet(new URL(metadata.jwks_uri), options.fetch ? { [customFetch]: options.fetch } : {}),
    replay: options.replay ?? new MemoryReplayGuard(),
    ...options.verifyOptions,
  };
  const report = (error: unknown) => {
    try {
      options.onerror?.(error);
    } catch {
      // Reporting is best effort.
    }
  };
  const applyOptions: ApplyOptions = { retainSeconds: options.retainSeconds, onApplied: options.onApplied };
  let stop: () => Promise<void>;
  let pushHandler: PushHandler | undefined;
  const verification = () => requestVerification(metadata, stream.stream_id, randomSecret(), client);
  if (push) {
    pushHandler = createPushEndpoint({ feed, verify, authorization, onerror: report, ...applyOptions });
    const ask = () => {
      if (metadata.verification_endpoint) verification().catch(report);
    };
    // After the caller's continuation has wired `pushHandler` to its server.
    const first = setTimeout(ask, 0);
    const timer = setInterval(ask, Math.max(1, Math.floor(options.maxStalenessMs / 3)));
    timer.unref?.();
    stop = async () => {
      clearTimeout(first);
      clearInterval(timer);
      pushHandler?.close();
    };
  } else {
    if (!stream.delivery.endpoint_url)
      throw new StreamRequestFailed('stream creation', 200, 'no poll endpoint_url assigned');
    const poll = new PollClient({
      endpoint: stream.delivery.endpoint_url,
      getAccessToken: options.getAccessToken,
      feed,
      verify,
      onerror: report,
      fetch: options.fetch,
      ...applyOptions,
    });
    // Caught up before this resolves, so the feed is fresh when the receiver starts serving (a failure
    // leaves it stale, failing closed, while the loop retries).
    const first = await poll.pollOnce(true).catch((error: unknown) => {
      report(error);
      return { moreAvailable: true };
    });
    poll.start(first.moreAvailable);
    stop = () => poll.close();
  }
  return {
    feed,
    metadata,
    stream,
    ...(pushHandler ? { pushHandler } : {}),
    requestVerification: verification,
    async close() {
      await stop();
      if (options.deleteStreamOnClose !== false)
        await deleteStream(metadata, stream.stream_id, client).catch(report);
    },
  };
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}
