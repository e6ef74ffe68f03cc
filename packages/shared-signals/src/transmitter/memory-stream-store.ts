import type { QueuedSet, StoredStream, StreamStatus } from './stream.ts';
import type { SetToQueue, StreamStore } from './stream-store.ts';

interface Held extends QueuedSet {
  seq: number;
  dueAt: number;
}

/**
 * Streams and queues in this process: one transmitter instance, forgotten on restart (tests, a
 * single-process broker on the memory store). Several instances share `SqlStreamStore`.
 */
export class MemoryStreamStore implements StreamStore {
  readonly #streams = new Map<string, StoredStream>();
  readonly #queues = new Map<string, Map<string, Held>>();
  #seq = 0;

  async createStream(stream: StoredStream): Promise<void> {
    if (this.#streams.has(stream.streamId)) throw new Error('stream id already in use');
    this.#streams.set(stream.streamId, structuredClone(stream));
    this.#queues.set(stream.streamId, new Map());
  }

  async getStream(streamId: string): Promise<StoredStream | undefined> {
    const stream = this.#streams.get(streamId);
    return stream && structuredClone(stream);
  }

  async listStreams(receiverId: string): Promise<StoredStream[]> {
    return [...this.#streams.values()]
      .filter((stream) => stream.receiverId === receiverId)
      .map((stream) => structuredClone(stream));
  }

  async receivingStreams(): Promise<StoredStream[]> {
    return [...this.#streams.values()]
      .filter((stream) => stream.status !== 'disabled')
      .map((stream) => structuredClone(stream));
  }

  async updateStream(stream: StoredStream): Promise<boolean> {
    const held = this.#streams.get(stream.streamId);
    if (!held) return false;
    const {
      status: _status,
      reason: _reason,
      lastError: _error,
      lastSeenAt: _seen,
      ...configuration
    } = structuredClone(stream);
    const updated: StoredStream = { ...configuration, status: held.status, lastSeenAt: held.lastSeenAt };
    if (held.reason !== undefined) updated.reason = held.reason;
    if (held.lastError !== undefined) updated.lastError = held.lastError;
    this.#streams.set(stream.streamId, updated);
    return true;
  }

  async setStatus(streamId: string, status: StreamStatus, reason: string | undefined): Promise<boolean> {
    const held = this.#streams.get(streamId);
    if (!held) return false;
    held.status = status;
    if (reason === undefined) delete held.reason;
    else held.reason = reason;
    return true;
  }

  async recordError(streamId: string, error: NonNullable<StoredStream['lastError']>): Promise<void> {
    const held = this.#streams.get(streamId);
    if (held) held.lastError = { ...error };
  }

  async deleteStream(streamId: string): Promise<boolean> {
    this.#queues.delete(streamId);
    return this.#streams.delete(streamId);
  }

  async touch(streamId: string, at: number): Promise<void> {
    const stream = this.#streams.get(streamId);
    if (stream && stream.lastSeenAt < at) stream.lastSeenAt = at;
  }

  async enqueue(streamId: string, sets: readonly SetToQueue[], at: number): Promise<number | undefined> {
    const queue = this.#queues.get(streamId);
    if (!queue) return undefined;
    for (const { jti, set, control } of sets) {
      if (queue.has(jti)) continue;
      queue.set(jti, { streamId, jti, set, control, attempts: 0, seq: ++this.#seq, dueAt: at });
    }
    return queue.size;
  }

  async clearQueue(streamId: string): Promise<void> {
    this.#queues.get(streamId)?.clear();
  }

  async pending(streamId: string, max: number, controlOnly: boolean): Promise<QueuedSet[]> {
    const queue = this.#queues.get(streamId);
    if (!queue) return [];
    return [...queue.values()]
      .filter((held) => !controlOnly || held.control)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, max)
      .map(queued);
  }

  async acknowledge(streamId: string, jtis: readonly string[]): Promise<void> {
    const queue = this.#queues.get(streamId);
    for (const jti of jtis) queue?.delete(jti);
  }

  async claimDue(now: number, leaseUntil: number, limit: number): Promise<QueuedSet[]> {
    const due: Held[] = [];
    for (const [streamId, queue] of this.#queues) {
      const stream = this.#streams.get(streamId);
      if (stream?.delivery.method !== 'urn:ietf:rfc:8935') continue;
      for (const held of queue.values()) {
        if (held.dueAt <= now && (stream.status === 'enabled' || held.control)) due.push(held);
      }
    }
    due.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
    return due.slice(0, limit).map((held) => {
      held.attempts++;
      held.dueAt = leaseUntil;
      return queued(held);
    });
  }

  async reschedule(streamId: string, jti: string, at: number): Promise<void> {
    const held = this.#queues.get(streamId)?.get(jti);
    if (held) held.dueAt = at;
  }

  async expireStreams(idleBefore: number): Promise<string[]> {
    const expired = [...this.#streams.values()]
      .filter((stream) => stream.lastSeenAt < idleBefore)
      .map((stream) => stream.streamId);
    for (const streamId of expired) await this.deleteStream(streamId);
    return expired;
  }
}

function queued({ streamId, jti, set, control, attempts }: Held): QueuedSet {
  return { streamId, jti, set, control, attempts };
}
