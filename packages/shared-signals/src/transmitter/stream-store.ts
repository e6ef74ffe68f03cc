import type { QueuedSet, StoredStream, StreamStatus } from './stream.ts';

/** A SET to queue on one stream. */
export interface SetToQueue {
  jti: string;
  set: string;
  /** A stream-management SET (verification, stream-updated), delivered on a disabled stream too. */
  control: boolean;
}

/**
 * Where a transmitter keeps its streams and the SETs queued on each, until pushed (RFC 8935) or
 * acknowledged (RFC 8936). Shared by every instance of one deployment (`SqlStreamStore` on
 * PostgreSQL), so any instance answers a poll and any instance's retry loop redelivers a failed push.
 * Times are Unix milliseconds. The conformance suite in `test/transmitter/stream-store.suite.ts` runs
 * against each implementation.
 */
export interface StreamStore {
  createStream(stream: StoredStream): Promise<void>;
  getStream(streamId: string): Promise<StoredStream | undefined>;
  /** The streams of one receiver, oldest first. */
  listStreams(receiverId: string): Promise<StoredStream[]>;
  /** Every stream that takes new SETs: `enabled` and `paused` ones (a paused stream holds them). */
  receivingStreams(): Promise<StoredStream[]>;
  /**
   * Replaces a stream's configuration (audience, events, delivery, description). Its status, reason,
   * last error, last-seen time and queue are kept as stored, so a configuration change never undoes a
   * concurrent status change. Resolves false when the stream is gone.
   */
  updateStream(stream: StoredStream): Promise<boolean>;
  /** Sets a stream's status and reason (none when `reason` is undefined). Resolves false when the stream is gone. */
  setStatus(streamId: string, status: StreamStatus, reason: string | undefined): Promise<boolean>;
  /** Records the last SET the receiver refused for good. */
  recordError(streamId: string, error: NonNullable<StoredStream['lastError']>): Promise<void>;
  /** Deletes a stream and its queue. Resolves false when there was none. */
  deleteStream(streamId: string): Promise<boolean>;
  /** Marks the stream's receiver as seen (a poll, a successful push). */
  touch(streamId: string, at: number): Promise<void>;
  /**
   * Queues SETs on a stream, each due for a first push at `at` (poll streams ignore it); a `jti`
   * already queued there is kept as is. Resolves to the stream's queue length after, or `undefined`
   * when the stream is gone.
   */
  enqueue(streamId: string, sets: readonly SetToQueue[], at: number): Promise<number | undefined>;
  /** Drops every SET queued on a stream (a disabled stream holds none). */
  clearQueue(streamId: string): Promise<void>;
  /** Up to `max` SETs queued on a stream, oldest first (`controlOnly`: only stream-management SETs). */
  pending(streamId: string, max: number, controlOnly: boolean): Promise<QueuedSet[]>;
  /** Removes SETs from a stream's queue (acknowledged, delivered, or refused for good); other streams' `jti`s are untouched. */
  acknowledge(streamId: string, jtis: readonly string[]): Promise<void>;
  /**
   * Push delivery: takes up to `limit` SETs due at `now` on push streams that may deliver them
   * (enabled; control SETs on disabled ones too), counts an attempt on each and leases them until
   * `leaseUntil`, so no other instance takes them meanwhile (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
   * A lease that expires (the instance died mid-push) makes the SET due again.
   */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<QueuedSet[]>;
  /** A push that failed and will be retried at `at`. */
  reschedule(streamId: string, jti: string, at: number): Promise<void>;
  /** Deletes the streams (and queues) whose receiver was last seen before `idleBefore`; resolves to their ids. */
  expireStreams(idleBefore: number): Promise<string[]>;
}
