import { z } from 'zod';

/** An RFC 8936 §2.2 poll request: acknowledgements, errors for SETs the receiver refused, and what it wants. */
export const pollRequest = z.object({
  maxEvents: z.number().int().min(0).optional(),
  returnImmediately: z.boolean().optional(),
  ack: z.array(z.string().min(1).max(256)).max(10_000).optional(),
  setErrs: z
    .record(
      z.string().min(1).max(256),
      z.object({ err: z.string().min(1).max(64), description: z.string().max(256).optional() }),
    )
    .optional(),
});

export type PollRequest = z.infer<typeof pollRequest>;

/**
 * Long polls waiting in this process, by stream: a SET queued here wakes them at once; a SET queued by
 * another instance is found when the poll checks the store again (every `pollCheckIntervalMs`).
 */
export class PollWaiters {
  readonly #waiting = new Map<string, Set<() => void>>();

  /** Resolves after `ms`, or sooner when `wake(streamId)` or `wakeAll()` is called. */
  wait(streamId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#waiting.get(streamId) ?? new Set();
      this.#waiting.set(streamId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.#waiting.get(streamId) === waiters) this.#waiting.delete(streamId);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiters.add(done);
    });
  }

  wake(streamId: string): void {
    for (const done of [...(this.#waiting.get(streamId) ?? [])]) done();
  }

  wakeAll(): void {
    for (const streamId of [...this.#waiting.keys()]) this.wake(streamId);
  }
}
