import type { DELIVERY_METHODS } from '../events.ts';

/** SSF 1.0 §8.1.2 stream status. */
export type StreamStatus = 'enabled' | 'paused' | 'disabled';

export type StreamDelivery =
  | {
      method: typeof DELIVERY_METHODS.push;
      endpointUrl: string;
      /** Sent as `Authorization` with every push; write-only (never returned by the configuration endpoint). */
      authorizationHeader?: string;
    }
  | { method: typeof DELIVERY_METHODS.poll; endpointUrl: string };

/** One stream as the transmitter stores it. Times are Unix milliseconds. */
export interface StoredStream {
  streamId: string;
  /** The authenticated receiver that created it: the only one that may read, change, poll or delete it. */
  receiverId: string;
  audience: string[];
  eventsRequested: string[];
  eventsDelivered: string[];
  delivery: StreamDelivery;
  description?: string;
  status: StreamStatus;
  /** Why the status last changed (the transmitter's or the receiver's words). */
  reason?: string;
  createdAt: number;
  /** Last poll, last successful push, or last request about the stream by its receiver. */
  lastSeenAt: number;
  /** The last SET the receiver refused for good (RFC 8935 400 `err`, RFC 8936 `setErrs`). */
  lastError?: { jti: string; err: string; description?: string; at: number };
}

/** A SET waiting on one stream until it is delivered (push) or acknowledged (poll). */
export interface QueuedSet {
  streamId: string;
  jti: string;
  set: string;
  /**
   * A stream-management SET (verification, stream-updated): delivered on a disabled stream too, so a
   * receiver learns that and why its stream was disabled.
   */
  control: boolean;
  /** Push attempts made so far. */
  attempts: number;
}
