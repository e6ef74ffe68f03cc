import { createClient } from 'redis';
import type { RevocationChange } from '../events.ts';
import { type FeedSource, RevocationFeed } from '../receiver/feed.ts';
import type { Revocation, RevocationKind, RevocationList } from '../revocation.ts';

/** The slice of a node-redis client the channel uses (raw commands keep it independent of the client's generics). */
export interface RedisChannelClient {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  sendCommand(args: ReadonlyArray<string>): Promise<unknown>;
  connect(): Promise<unknown>;
  duplicate(overrides?: { disableOfflineQueue?: boolean }): RedisChannelClient;
  on(event: 'error' | 'end' | 'reconnecting', listener: (...args: unknown[]) => void): unknown;
  close(): Promise<unknown>;
  destroy(): void;
}

export interface RedisRevocationChannelOptions {
  /** A `redis://` URL (the channel opens its own connections) or a connected node-redis client (it stays yours; subscribers use a `duplicate()`). */
  redis: string | RedisChannelClient;
  /** The stream key, one per deployment: `baton:revocations`. */
  key: string;
  /** Entries kept (`XADD MAXLEN ~`); a new subscriber catches up on these. Default 100,000. */
  maxEntries?: number;
}

export interface RevocationSubscriptionOptions {
  /** How long one `XREAD BLOCK` waits, milliseconds. Default: a third of the feed's `maxStalenessMs`, at most 5,000. */
  blockMs?: number;
  /** Retry delays while Redis is unreachable. Default 100 / 5,000 ms. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Told of every failed read and every entry that could not be read (never its contents). */
  onerror?: (error: unknown) => void;
}

export interface RevocationSubscription {
  /** The id of the last entry applied (`0-0` before any). */
  readonly lastId: string;
  close(): Promise<void>;
}

const READ_BATCH = 1_000;
const KINDS = new Set<RevocationKind>(['jti', 'subject', 'session', 'client']);

/**
 * The fast path between instances of one deployment, on a Redis stream: `publish` appends a
 * revocation change (`XADD`, trimmed to about `maxEntries`), `subscribe` applies every change to a
 * feed's list, reading from the start of the stream (so a new instance catches up on every retained
 * entry) and then blocking for more from the last id it applied. A dropped connection marks the
 * feed's `redis` source lost (the feed is stale, `whenStale` applies) until it reconnects and has
 * caught up. Beside, not instead of, a Shared Signals stream: the stream is what a receiver outside
 * the deployment, or one that missed a trimmed entry, relies on.
 *
 * @example
 * const channel = new RedisRevocationChannel({ redis: 'redis://127.0.0.1:6379', key: 'baton:revocations' });
 * const subscription = channel.subscribe(feed);
 * await channel.publish({ add: [{ kind: 'subject', value: 'bob' }], lift: [] });
 */
export class RedisRevocationChannel {
  readonly #options: RedisRevocationChannelOptions;
  readonly #maxEntries: number;
  #publisher: { client: RedisChannelClient; ready: Promise<unknown>; owned: boolean } | undefined;
  readonly #subscriptions = new Set<RevocationSubscription>();

  constructor(options: RedisRevocationChannelOptions) {
    if (!options || (typeof options.redis !== 'string' && typeof options.redis?.sendCommand !== 'function')) {
      throw new TypeError(
        'RedisRevocationChannel needs { redis: a redis:// URL or a node-redis client, key }',
      );
    }
    if (typeof options.key !== 'string' || options.key === '')
      throw new TypeError('key must be a non-empty string');
    this.#maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new TypeError('maxEntries must be a positive integer');
    }
    this.#options = options;
  }

  /** Appends one change; resolves to its stream id. Rejects while Redis is unreachable. */
  async publish(change: RevocationChange): Promise<string> {
    const { client, ready } = this.#publisherClient();
    await ready;
    const id = await client.sendCommand([
      'XADD',
      this.#options.key,
      'MAXLEN',
      '~',
      String(this.#maxEntries),
      '*',
      'change',
      JSON.stringify({ add: change.add, lift: change.lift }),
    ]);
    return String(id);
  }

  /** Applies every change on the stream to `target` (a feed: its list, with staleness; or a bare list). */
  subscribe(
    target: RevocationFeed | RevocationList,
    options: RevocationSubscriptionOptions = {},
  ): RevocationSubscription {
    const list = target instanceof RevocationFeed ? target.list : target;
    const source: FeedSource | undefined =
      target instanceof RevocationFeed ? target.source('redis') : undefined;
    const blockMs =
      options.blockMs ??
      Math.min(
        5_000,
        Math.max(1, Math.floor((target instanceof RevocationFeed ? target.maxStalenessMs : 15_000) / 3)),
      );
    const initial = options.backoff?.initialMs ?? 100;
    const max = options.backoff?.maxMs ?? 5_000;
    const report = (error: unknown) => {
      try {
        options.onerror?.(error);
      } catch {
        // Reporting is best effort.
      }
    };
    const client = this.#subscriberClient();
    client.on('error', () => {});
    client.on('end', () => source?.lost());
    client.on('reconnecting', () => source?.lost());
    let closed = false;
    let wake: (() => void) | undefined;
    let lastId = '0-0';
    const key = this.#options.key;
    const loop = async () => {
      let delay = initial;
      while (!closed) {
        try {
          if (!client.isOpen) await client.connect();
          const reply = await client.sendCommand([
            'XREAD',
            'COUNT',
            String(READ_BATCH),
            'BLOCK',
            String(blockMs),
            'STREAMS',
            key,
            lastId,
          ]);
          let read = 0;
          for (const [id, change] of entriesOf(reply)) {
            read++;
            if (change) {
              if (change.lift.length) list.lift(change.lift);
              if (change.add.length) list.add(change.add);
            } else {
              report(new TypeError(`revocation stream entry ${id} is not a revocation change`));
            }
            lastId = id;
          }
          // A read that returned less than a full batch (or timed out) proves the connection and that
          // every entry up to it is applied.
          if (read < READ_BATCH) source?.heard();
          delay = initial;
        } catch (error) {
          if (closed) break;
          source?.lost();
          report(error);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay * (0.5 + Math.random() / 2));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          delay = Math.min(max, delay * 2);
        }
      }
    };
    const running = loop();
    const subscription: RevocationSubscription = {
      get lastId() {
        return lastId;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        wake?.();
        // The blocked XREAD holds the connection: destroy rather than wait for it.
        client.destroy();
        await running.catch(() => {});
        source?.remove();
        this.#subscriptions.delete(subscription);
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Closes every subscription and the publishing connection if the channel opened it. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    const publisher = this.#publisher;
    this.#publisher = undefined;
    if (publisher?.owned) {
      if (publisher.client.isReady) await publisher.client.close().catch(() => {});
      else publisher.client.destroy();
    }
  }

  #publisherClient(): { client: RedisChannelClient; ready: Promise<unknown> } {
    if (!this.#publisher) {
      const redis = this.#options.redis;
      if (typeof redis === 'string') {
        const client = ownClient(redis);
        const ready = client.connect();
        ready.catch(() => {});
        this.#publisher = { client, ready, owned: true };
      } else {
        this.#publisher = { client: redis, ready: Promise.resolve(), owned: false };
      }
    }
    return this.#publisher;
  }

  #subscriberClient(): RedisChannelClient {
    const redis = this.#options.redis;
    return typeof redis === 'string' ? ownClient(redis) : redis.duplicate({ disableOfflineQueue: true });
  }
}

/** A client of our own: no offline queue, so while Redis is unreachable a command fails at once. */
function ownClient(url: string): RedisChannelClient {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5_000, reconnectStrategy: (retries) => Math.min(5_000, 50 * 2 ** retries) },
  }) as unknown as RedisChannelClient;
  client.on('error', () => {});
  return client;
}

/** `XREAD`'s reply as `[id, change | undefined]`, in order. */
function* entriesOf(reply: unknown): Generator<[string, RevocationChange | undefined]> {
  // RESP2 answers `[[key, entries]]`; RESP3 a map `{ key: entries }` (a `Map` under some type mappings).
  const streams: unknown[] = Array.isArray(reply)
    ? reply.map((stream) => (Array.isArray(stream) ? stream[1] : undefined))
    : reply instanceof Map
      ? [...reply.values()]
      : typeof reply === 'object' && reply !== null
        ? Object.values(reply)
        : [];
  for (const entries of streams) {
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (!Array.isArray(entry) || (typeof entry[0] !== 'string' && !(entry[0] instanceof Uint8Array)))
        continue;
      const id = String(entry[0]);
      const fields = Array.isArray(entry[1]) ? entry[1].map(String) : [];
      const index = fields.indexOf('change');
      yield [id, index >= 0 && index % 2 === 0 ? changeOf(fields[index + 1]) : undefined];
    }
  }
}

function changeOf(text: string | undefined): RevocationChange | undefined {
  try {
    const value = JSON.parse(text ?? '') as { add?: unknown; lift?: unknown };
    if (!Array.isArray(value.add) || !Array.isArray(value.lift)) return undefined;
    const add = value.add.filter(isRevocation);
    const lift = value.lift
      .filter(isRevocation)
      .map(({ kind, value, at }) => ({ kind, value, ...(typeof at === 'number' ? { at } : {}) }));
    if (add.length !== value.add.length || lift.length !== value.lift.length) return undefined;
    return { add, lift };
  } catch {
    return undefined;
  }
}

function isRevocation(value: unknown): value is Revocation {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, value: text, before, until, at } = value as Record<string, unknown>;
  return (
    KINDS.has(kind as RevocationKind) &&
    typeof text === 'string' &&
    text !== '' &&
    (before === undefined || typeof before === 'number') &&
    (until === undefined || typeof until === 'number') &&
    (at === undefined || typeof at === 'number')
  );
}
