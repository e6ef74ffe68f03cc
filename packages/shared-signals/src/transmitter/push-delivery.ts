import { DELIVERY_METHODS } from '../events.ts';
import type { TransmitterLimits } from './options.ts';
import { pushSet } from './push.ts';
import type { StoredStream } from './stream.ts';
import type { StreamStore } from './stream-store.ts';

const CLAIM_BATCH = 64;

export interface PushDeliveryOptions {
  store: StreamStore;
  fetch: typeof fetch;
  limits: TransmitterLimits;
  now: () => number;
  /** A SET the receiver refused for good (RFC 8935 400 `err`); it is already out of the queue. */
  onRefused(stream: StoredStream, jti: string, err: string): void;
  onError(error: unknown): void;
}

/**
 * RFC 8935 push delivery from the shared queue: claims due SETs (leased, so no other instance pushes
 * them meanwhile), pushes them, and removes what was delivered or refused for good; what failed is
 * due again after an exponential backoff, for as long as the stream exists.
 */
export class PushDelivery {
  readonly #options: PushDeliveryOptions;
  #delivering: Promise<void> | undefined;
  #deliverAgain = false;
  #closed = false;

  constructor(options: PushDeliveryOptions) {
    this.#options = options;
  }

  /** Pushes every due SET until none is left; a call while a round runs makes it go round once more. */
  deliverDue(): Promise<void> {
    if (this.#delivering) {
      this.#deliverAgain = true;
      return this.#delivering;
    }
    this.#delivering = (async () => {
      try {
        do {
          this.#deliverAgain = false;
          while (!this.#closed && (await this.#deliverBatch()) > 0) {
            // claim the next batch
          }
        } while (this.#deliverAgain && !this.#closed);
      } catch (error) {
        this.#options.onError(error);
      } finally {
        this.#delivering = undefined;
      }
    })();
    return this.#delivering;
  }

  /** Stops claiming, and waits for the pushes in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#delivering;
  }

  async #deliverBatch(): Promise<number> {
    const now = this.#options.now();
    const claimed = await this.#options.store.claimDue(
      now,
      now + this.#options.limits.pushTimeoutMs + 5_000,
      CLAIM_BATCH,
    );
    const streams = new Map<string, Promise<StoredStream | undefined>>();
    await Promise.all(
      claimed.map(async (queued) => {
        let found = streams.get(queued.streamId);
        if (!found) {
          found = this.#options.store.getStream(queued.streamId);
          streams.set(queued.streamId, found);
        }
        const stream = await found;
        if (!stream || stream.delivery.method !== DELIVERY_METHODS.push) return;
        const outcome = await pushSet(
          this.#options.fetch,
          stream.delivery,
          queued.set,
          this.#options.limits.pushTimeoutMs,
        );
        switch (outcome.kind) {
          case 'delivered':
            await this.#options.store.acknowledge(stream.streamId, [queued.jti]);
            await this.#options.store.touch(stream.streamId, this.#options.now());
            return;
          case 'refused':
            await this.#options.store.acknowledge(stream.streamId, [queued.jti]);
            await this.#options.store.recordError(stream.streamId, {
              jti: queued.jti,
              err: outcome.err,
              ...(outcome.description ? { description: outcome.description } : {}),
              at: this.#options.now(),
            });
            this.#options.onRefused(stream, queued.jti, outcome.err);
            return;
          case 'retry': {
            const backoff = Math.min(
              this.#options.limits.initialBackoffMs * 2 ** Math.max(0, queued.attempts - 1),
              this.#options.limits.maxBackoffMs,
            );
            await this.#options.store.reschedule(stream.streamId, queued.jti, this.#options.now() + backoff);
            return;
          }
        }
      }),
    );
    return claimed.length;
  }
}
