import type { Revocation } from '../revocation.ts';
import type { SetSigningKey } from '../set/mint.ts';
import type { StreamStore } from './stream-store.ts';

export interface SharedSignalsTransmitterOptions {
  /** The transmitter's issuer: `iss` of every SET, and the base of every endpoint. */
  issuer: string;
  /** Where receivers find the keys that verify the SETs (the broker's `/jwks`). */
  jwksUri: string;
  /** Signs every SET (the broker's first signing key). */
  key: SetSigningKey;
  /**
   * Authenticates a management or poll request: the receiver's id, or `undefined` (401). Required:
   * the transmitter has no notion of who may receive on its own. The broker verifies a bearer access
   * token it issued for `<issuer>/ssf` to an operator-listed client.
   */
  authenticate(request: Request): Promise<{ receiverId: string } | undefined>;
  /** Every revocation still in force, queued on a new stream so that a (re)started receiver loses nothing. */
  currentRevocations(): Promise<readonly Revocation[]>;
  /** Streams and queued SETs. Default: in memory (one instance). `SqlStreamStore` shares them between instances. */
  store?: StreamStore;
  /** The issuer of the subjects revoked (`iss` of `iss_sub` subjects) for seeded SETs. Default `issuer`. */
  subjectIssuer?: string;
  /** The audiences a receiver's stream may ask for (`aud`). Default: its receiver id alone, which is also the default `aud`. */
  audiencesFor?(receiverId: string): readonly string[];
  /**
   * Whether a receiver may have SETs pushed to this URL. Default: `https:` only. The broker passes an
   * allow-list; tests on loopback pass their own.
   */
  pushEndpointAllowed?(url: URL): boolean;
  fetch?: typeof fetch;
  /** A stream whose queue grows beyond this is disabled (with a `stream-updated` SET saying why). Default 10,000. */
  maxQueueLength?: number;
  /**
   * Streams one receiver may hold (SSF 1.0 allows several): one per running instance, plus those of
   * instances that stopped without deleting theirs (until `inactivityTimeoutSeconds`). Default 100.
   */
  maxStreamsPerReceiver?: number;
  /**
   * A stream whose receiver has not been seen for this long (no poll, no accepted push, no request
   * about it, such as the verification endpoint) is deleted with its queue. Default 7 days.
   */
  inactivityTimeoutSeconds?: number;
  /** How long a poll without `returnImmediately` waits for a SET. Default 25,000. */
  longPollMs?: number;
  /** How often a waiting poll looks at the store for SETs another instance queued. Default 1,000. */
  pollCheckIntervalMs?: number;
  /** The most SETs one poll answer carries. Default 1,000. */
  maxEventsPerPoll?: number;
  /** How long one push may take. Default 10,000. */
  pushTimeoutMs?: number;
  /** Push retries: the loop's period, and exponential backoff from `initialBackoffMs` to `maxBackoffMs`. */
  retry?: { intervalMs?: number; initialBackoffMs?: number; maxBackoffMs?: number };
  /** Told when a receiver refuses a SET for good (RFC 8935 `err`, RFC 8936 `setErrs`). Never a SET. */
  onSetRefused?(refused: { streamId: string; receiverId: string; jti: string; err: string }): void;
  /** Told of failures in the background (delivery loop, expiry). */
  onError?(error: unknown): void;
  /** Unix milliseconds now; tests pass their own clock. */
  now?: () => number;
}

/** The transmitter's bounds and timings, defaults filled in. */
export interface TransmitterLimits {
  maxQueueLength: number;
  maxStreamsPerReceiver: number;
  inactivityTimeoutSeconds: number;
  longPollMs: number;
  pollCheckIntervalMs: number;
  maxEventsPerPoll: number;
  pushTimeoutMs: number;
  retryIntervalMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** The limits of these options, each a positive number (`TypeError` otherwise) or its default. */
export function limitsOf(options: SharedSignalsTransmitterOptions): TransmitterLimits {
  const positive = (value: number | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number`);
    return value;
  };
  return {
    maxQueueLength: positive(options.maxQueueLength, 10_000, 'maxQueueLength'),
    maxStreamsPerReceiver: positive(options.maxStreamsPerReceiver, 100, 'maxStreamsPerReceiver'),
    inactivityTimeoutSeconds: positive(
      options.inactivityTimeoutSeconds,
      7 * 86_400,
      'inactivityTimeoutSeconds',
    ),
    longPollMs: positive(options.longPollMs, 25_000, 'longPollMs'),
    pollCheckIntervalMs: positive(options.pollCheckIntervalMs, 1_000, 'pollCheckIntervalMs'),
    maxEventsPerPoll: positive(options.maxEventsPerPoll, 1_000, 'maxEventsPerPoll'),
    pushTimeoutMs: positive(options.pushTimeoutMs, 10_000, 'pushTimeoutMs'),
    retryIntervalMs: positive(options.retry?.intervalMs, 1_000, 'retry.intervalMs'),
    initialBackoffMs: positive(options.retry?.initialBackoffMs, 1_000, 'retry.initialBackoffMs'),
    maxBackoffMs: positive(options.retry?.maxBackoffMs, 300_000, 'retry.maxBackoffMs'),
  };
}
