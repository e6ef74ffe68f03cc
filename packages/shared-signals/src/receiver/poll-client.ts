import { BatonError } from '@baton/core';
import { isReceiverCondition, type SetErrorCode, SetRefused, setErrorOf } from '../set/refused.ts';
import { checkedVerifyOptions, type SetVerifyOptions, verifySecurityEventToken } from '../set/verify.ts';
import { type ApplyOptions, applySet } from './apply.ts';
import { checkedEndpoint } from './endpoint.ts';
import type { FeedSource, RevocationFeed } from './feed.ts';

export interface PollClientOptions extends ApplyOptions {
  /** The stream's poll endpoint (its `delivery.endpoint_url`). */
  endpoint: string | URL;
  /** A bearer token for the poll endpoint, asked for before every request (cache it on your side). */
  getAccessToken: () => string | Promise<string>;
  /** The feed the SETs are applied to; the client registers itself as its source `poll`. */
  feed: RevocationFeed;
  /** How SETs are verified (issuer, audience, keys, replay guard). */
  verify: SetVerifyOptions;
  /** `maxEvents` of each request. Default 100. */
  maxEvents?: number;
  /**
   * How long one (long-poll) request may take before it is abandoned and sent again, milliseconds.
   * Default: 90 % of the feed's `maxStalenessMs`. A transmitter holds a long poll for a time of its own
   * (the broker: `longPollMs`, 25 s): the feed stays fresh while nothing happens only when that is
   * shorter than this, so set `maxStalenessMs` above the transmitter's hold (30 s for the broker's).
   */
  requestTimeoutMs?: number;
  /** Retry delays after a failed request: doubling from `initialMs` up to `maxMs`, with jitter. Default 250 / 15,000. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Told of every failed request and every SET refused (never the SET or the token). */
  onerror?: (error: unknown) => void;
  fetch?: typeof fetch;
}

/** RFC 8936 §2.4.4 `setErrs` entry. */
type SetErr = { err: SetErrorCode; description: string };

/**
 * An RFC 8936 poll receiver. Each request acknowledges the SETs applied since the last successful
 * request (and reports refused ones in `setErrs`), then long-polls for more. A SET is acknowledged
 * only after it is applied, and acknowledgements are kept until a request carrying them succeeds, so
 * a receiver that crashes mid-batch loses nothing: the transmitter delivers the unacknowledged SETs
 * again. A SET already taken (its `jti` seen, the ack was lost) is acknowledged, not applied twice.
 * Failed requests are retried with backoff; every successful response marks the feed's `poll` source
 * heard, so a transmitter that goes away makes the feed stale.
 *
 * @example
 * const poll = new PollClient({ endpoint, getAccessToken, feed, verify: { issuer, audience, keys, replay } });
 * poll.start();
 * // on shutdown: await poll.close();
 */
export class PollClient {
  readonly #options: PollClientOptions;
  readonly #source: FeedSource;
  readonly #fetch: typeof fetch;
  #ack: string[] = [];
  #setErrs: Record<string, SetErr> = {};
  #running: Promise<void> | undefined;
  #closed = false;
  #inflight: AbortController | undefined;
  #wake: (() => void) | undefined;

  constructor(options: PollClientOptions) {
    if (
      !options?.endpoint ||
      typeof options.getAccessToken !== 'function' ||
      !options.feed ||
      !options.verify
    ) {
      throw new TypeError('PollClient needs { endpoint, getAccessToken, feed, verify }');
    }
    checkedEndpoint(options.endpoint, 'the poll endpoint');
    checkedVerifyOptions(options.verify);
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#source = options.feed.source('poll');
  }

  /**
   * Starts the long-poll loop (idempotent). `catchUp` (default true): ask without waiting first, as
   * after a poll that said more is available; false once the caller has just caught up.
   */
  start(catchUp = true): void {
    if (this.#closed || this.#running) return;
    this.#running = this.#loop(catchUp);
  }

  /**
   * One request: acknowledges what is pending, receives, verifies and applies. Resolves to how many
   * SETs were applied and whether the transmitter has more; rejects when the request fails (pending
   * acknowledgements are kept for the next one).
   */
  async pollOnce(returnImmediately = true): Promise<{ applied: number; moreAvailable: boolean }> {
    const ack = this.#ack;
    const setErrs = this.#setErrs;
    const options = this.#options;
    const controller = new AbortController();
    this.#inflight = controller;
    const timeout = setTimeout(
      () => controller.abort(),
      options.requestTimeoutMs ?? options.feed.maxStalenessMs * 0.9,
    );
    let body: unknown;
    try {
      const response = await this.#request(
        ack,
        setErrs,
        options.maxEvents ?? 100,
        returnImmediately,
        controller.signal,
      );
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        throw new PollFailed(`the poll endpoint answered ${response.status}`);
      }
      body = await response.json();
    } finally {
      clearTimeout(timeout);
      if (this.#inflight === controller) this.#inflight = undefined;
    }
    // The request carried these acknowledgements and succeeded: the transmitter has them.
    this.#ack = this.#ack.slice(ack.length);
    for (const jti of Object.keys(setErrs)) delete this.#setErrs[jti];
    const { sets, moreAvailable } = (body ?? {}) as { sets?: unknown; moreAvailable?: unknown };
    if (typeof sets !== 'object' || sets === null || Array.isArray(sets)) {
      throw new PollFailed('the poll response has no sets object');
    }
    let applied = 0;
    /** A SET this receiver cannot take now: it and every SET after it wait for the next poll (order kept). */
    let blocked: unknown;
    for (const [jti, jwt] of Object.entries(sets as Record<string, unknown>)) {
      if (this.#closed) break;
      try {
        if (typeof jwt !== 'string') {
          throw new SetRefused('invalid_request', 'malformed', 'the SET is not a string');
        }
        const set = await verifySecurityEventToken(jwt, options.verify);
        if (set.jti !== jti) {
          throw new SetRefused('invalid_request', 'malformed', "the SET's jti is not its key in sets");
        }
        applySet(options.feed, this.#source, set, options);
        applied++;
        this.#ack.push(jti);
      } catch (error) {
        if (error instanceof SetRefused && error.reason === 'jti_replayed') {
          this.#ack.push(jti);
        } else if (error instanceof SetRefused && !isReceiverCondition(error)) {
          this.#setErrs[jti] = setErrorOf(error);
          this.#report(error);
        } else {
          // Not the SET's fault (keys unreachable, replay guard full, this receiver's clock): neither
          // acknowledged nor refused, so it comes again; the feed is stale until it is taken.
          blocked = error;
          break;
        }
      }
    }
    if (blocked !== undefined) {
      this.#source.lost();
      this.#report(blocked);
      throw new PollFailed('a SET could not be taken now; the feed is stale until it is');
    }
    this.#source.heard();
    return { applied, moreAvailable: moreAvailable === true };
  }

  /** Stops the loop; sends what is still to acknowledge, once, best effort. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inflight?.abort();
    this.#wake?.();
    await this.#running?.catch(() => {});
    if (this.#ack.length || Object.keys(this.#setErrs).length) {
      await this.#acknowledgeOnly().catch(() => {});
    }
    this.#source.remove();
  }

  async #loop(catchUp: boolean): Promise<void> {
    const initial = this.#options.backoff?.initialMs ?? 250;
    const max = this.#options.backoff?.maxMs ?? 15_000;
    let delay = initial;
    let more = catchUp;
    while (!this.#closed) {
      try {
        // Catch up without waiting while the transmitter has more; then long-poll.
        ({ moreAvailable: more } = await this.pollOnce(more));
        delay = initial;
      } catch (error) {
        if (this.#closed) break;
        this.#report(error);
        more = true;
        await this.#sleep(delay * (0.5 + Math.random() / 2));
        delay = Math.min(max, delay * 2);
      }
    }
  }

  async #acknowledgeOnly(): Promise<void> {
    const response = await this.#request(this.#ack, this.#setErrs, 0, true, AbortSignal.timeout(5_000));
    await response.body?.cancel().catch(() => {});
  }

  /** One RFC 8936 poll request: acknowledgements, errors, and how many SETs it takes, how soon. */
  async #request(
    ack: readonly string[],
    setErrs: Record<string, unknown>,
    maxEvents: number,
    returnImmediately: boolean,
    signal: AbortSignal,
  ): Promise<Response> {
    const token = await this.#options.getAccessToken();
    return this.#fetch(new URL(this.#options.endpoint), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: JSON.stringify({
        ack,
        ...(Object.keys(setErrs).length ? { setErrs } : {}),
        maxEvents,
        returnImmediately,
      }),
      signal,
      redirect: 'error',
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  #report(error: unknown): void {
    try {
      this.#options.onerror?.(error);
    } catch {
      // Reporting is best effort.
    }
  }
}

/** A poll request that failed (a non-2xx status, or not a poll response); the loop retries it. */
export class PollFailed extends BatonError<'ERR_SSF_POLL_FAILED'> {
  override name = 'PollFailed';
  constructor(description: string) {
    super('ERR_SSF_POLL_FAILED', description);
  }
}
