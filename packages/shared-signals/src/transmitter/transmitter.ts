import { z } from 'zod';
import {
  DELIVERY_METHODS,
  EVENT_TYPES,
  type EventsOfRevocationOptions,
  eventsOfRevocations,
  REVOCATION_EVENT_TYPES,
  type SecurityEvent,
} from '../events.ts';
import type { Revocation } from '../revocation.ts';
import { mintSecurityEventToken } from '../set/mint.ts';
import { MemoryStreamStore } from './memory-stream-store.ts';
import { type TransmitterEndpoints, transmitterEndpoints, transmitterMetadata } from './metadata.ts';
import { limitsOf, type SharedSignalsTransmitterOptions, type TransmitterLimits } from './options.ts';
import { PollWaiters, pollRequest } from './poll.ts';
import { PushDelivery } from './push-delivery.ts';
import { refusal, refusalResponse, streamNotFound, TransmitterRefusal } from './refusal.ts';
import type { StoredStream, StreamDelivery, StreamStatus } from './stream.ts';
import {
  eventsDelivered,
  parseBody,
  type StreamRequest,
  streamConfiguration,
  streamRequest,
} from './stream-configuration.ts';
import type { SetToQueue, StreamStore } from './stream-store.ts';

/** What one `publish` queued. */
export interface PublishResult {
  streams: number;
  sets: number;
}

const SWEEP_EVERY_MS = 60_000;

/**
 * An OpenID Shared Signals Framework 1.0 transmitter, runtime-neutral: `handle(request)` answers its
 * endpoints (metadata, stream configuration, status, verification, RFC 8936 poll) with web
 * `Request`/`Response`, so it mounts in any server; `publish(revocations)` queues one SET per event on
 * every stream that delivers its type, durably, then pushes (RFC 8935) what push streams are due.
 * A retry loop in every instance redelivers failed pushes with exponential backoff until delivered,
 * refused for good, or the stream is gone.
 *
 * @example
 * const transmitter = new SharedSignalsTransmitter({ issuer, jwksUri: `${issuer}/jwks`, key,
 *   authenticate: async (request) => verifyReceiver(request), currentRevocations: async () => [] });
 * server.on('request', adapt((request) => transmitter.handle(request)));
 * await transmitter.publish([{ kind: 'subject', value: 'alice' }], { reasonAdmin: 'offboarded' });
 */
export class SharedSignalsTransmitter {
  readonly issuer: string;
  readonly store: StreamStore;
  readonly endpoints: TransmitterEndpoints;
  readonly #options: SharedSignalsTransmitterOptions;
  readonly #paths: { configuration: string; status: string; verification: string };
  readonly #waiters = new PollWaiters();
  readonly #now: () => number;
  readonly #limits: TransmitterLimits;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #push: PushDelivery;
  #nextSweep = 0;
  #closed = false;

  constructor(options: SharedSignalsTransmitterOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options are required');
    for (const name of ['issuer', 'jwksUri'] as const) {
      if (typeof options[name] !== 'string' || !URL.canParse(options[name])) {
        throw new TypeError(`${name} must be an absolute URL`);
      }
    }
    if (typeof options.authenticate !== 'function') throw new TypeError('authenticate is required');
    if (typeof options.currentRevocations !== 'function') {
      throw new TypeError('currentRevocations is required');
    }
    if (!options.key?.key || typeof options.key.kid !== 'string' || typeof options.key.alg !== 'string') {
      throw new TypeError('key needs a private key, a kid and an alg');
    }
    this.issuer = options.issuer;
    this.store = options.store ?? new MemoryStreamStore();
    this.endpoints = transmitterEndpoints(options.issuer);
    this.#paths = {
      configuration: new URL(this.endpoints.configuration).pathname,
      status: new URL(this.endpoints.status).pathname,
      verification: new URL(this.endpoints.verification).pathname,
    };
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#limits = limitsOf(options);
    this.#push = new PushDelivery({
      store: this.store,
      fetch: options.fetch ?? fetch,
      limits: this.#limits,
      now: this.#now,
      onRefused: (stream, jti, err) => this.#refused(stream, jti, err),
      onError: (error) => this.#options.onError?.(error),
    });
    this.#timer = setInterval(() => this.#tick(), this.#limits.retryIntervalMs);
    this.#timer.unref?.();
  }

  /** Whether a request path is one of the transmitter's (for adapters that share a server). */
  handles(pathname: string): boolean {
    return (
      pathname === this.endpoints.metadataPath ||
      pathname === this.#paths.configuration ||
      pathname === this.#paths.status ||
      pathname === this.#paths.verification ||
      pathname.startsWith(this.endpoints.pollPathPrefix)
    );
  }

  /** Answers one request to a transmitter endpoint (404 for any other path). */
  async handle(request: Request): Promise<Response> {
    try {
      return await this.#route(request);
    } catch (error) {
      if (error instanceof TransmitterRefusal) return refusalResponse(error);
      this.#options.onError?.(error);
      return Response.json(
        { error: 'server_error', error_description: 'the transmitter failed' },
        { status: 500, headers: { 'cache-control': 'no-store' } },
      );
    }
  }

  /**
   * Queues the events of these revocations (`eventsOfRevocations`), one SET per event, on every
   * enabled or paused stream whose `events_delivered` has the event's type, and resolves once they are
   * stored; pushing follows in the background. Rejects if any stream's queue could not be written
   * (the others are queued).
   */
  async publish(
    revocations: readonly Revocation[],
    context: Partial<EventsOfRevocationOptions> = {},
  ): Promise<PublishResult> {
    const events = eventsOfRevocations(revocations, {
      subjectIssuer: this.#options.subjectIssuer ?? this.issuer,
      at: Math.floor(this.#now() / 1000),
      ...context,
    });
    if (!events.length) return { streams: 0, sets: 0 };
    const txn = crypto.randomUUID();
    const streams = await this.store.receivingStreams();
    let sets = 0;
    let reached = 0;
    const failures: unknown[] = [];
    await Promise.all(
      streams.map(async (stream) => {
        try {
          const queued = await this.#queueEvents(stream, events, txn);
          if (queued) {
            sets += queued;
            reached++;
          }
        } catch (error) {
          failures.push(error);
        }
      }),
    );
    void this.deliverDue();
    if (failures.length) throw new AggregateError(failures, 'some streams could not queue the SETs');
    return { streams: reached, sets };
  }

  /**
   * Pushes every SET that is due, on every push stream of the store (this instance's and others'
   * failed ones), until none is left. The retry loop calls it every `retry.intervalMs`.
   */
  deliverDue(): Promise<void> {
    return this.#push.deliverDue();
  }

  /** Stops the retry loop and answers waiting polls now. The store stays open (its owner closes it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#waiters.wakeAll();
    await this.#push.close();
  }

  // --- routing -----------------------------------------------------------------------------------

  async #route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method.toUpperCase();
    if (path === this.endpoints.metadataPath) {
      if (method !== 'GET' && method !== 'HEAD') throw notAllowed();
      return Response.json(transmitterMetadata(this.issuer, this.#options.jwksUri, this.endpoints));
    }
    if (!this.handles(path)) throw refusal('invalid_request', 'endpoint_not_found', 'no such endpoint', 404);
    const receiverId = await this.#authenticate(request);
    if (path === this.#paths.configuration) {
      switch (method) {
        case 'POST':
          return this.#createStream(receiverId, await parseBody(request, streamRequest));
        case 'GET':
          return this.#readStreams(receiverId, url.searchParams.get('stream_id'));
        case 'PATCH':
        case 'PUT':
          return this.#updateStream(receiverId, await parseBody(request, streamRequest), method === 'PUT');
        case 'DELETE': {
          const stream = await this.#owned(receiverId, url.searchParams.get('stream_id'));
          await this.store.deleteStream(stream.streamId);
          this.#waiters.wake(stream.streamId);
          return new Response(null, { status: 204 });
        }
        default:
          throw notAllowed();
      }
    }
    if (path === this.#paths.status) {
      if (method === 'GET') {
        return json(statusOf(await this.#owned(receiverId, url.searchParams.get('stream_id'))));
      }
      if (method === 'POST') return this.#updateStatus(receiverId, await parseBody(request, statusRequest));
      throw notAllowed();
    }
    if (path === this.#paths.verification) {
      if (method !== 'POST') throw notAllowed();
      return this.#verify(receiverId, await parseBody(request, verificationRequest));
    }
    if (method !== 'POST') throw notAllowed();
    let streamId: string;
    try {
      streamId = decodeURIComponent(path.slice(this.endpoints.pollPathPrefix.length));
    } catch {
      throw streamNotFound();
    }
    return this.#poll(receiverId, streamId, request);
  }

  async #authenticate(request: Request): Promise<string> {
    const authenticated = await this.#options.authenticate(request);
    if (authenticated && typeof authenticated.receiverId === 'string' && authenticated.receiverId !== '') {
      return authenticated.receiverId;
    }
    if (!request.headers.has('authorization')) {
      throw refusal('credentials_missing', 'credentials_missing', 'authentication is required');
    }
    throw refusal('invalid_token', 'receiver_unauthenticated', 'the access token is not valid here');
  }

  /** The receiver's own stream, or 404 exactly as for a stream that does not exist. */
  async #owned(receiverId: string, streamId: string | null | undefined): Promise<StoredStream> {
    if (!streamId) throw refusal('invalid_request', 'request_malformed', 'stream_id is required');
    const stream = await this.store.getStream(streamId);
    if (!stream || stream.receiverId !== receiverId) throw streamNotFound();
    await this.store.touch(stream.streamId, this.#now());
    return stream;
  }

  // --- stream configuration (SSF 1.0 §8.1.1) ---------------------------------------------------

  async #createStream(receiverId: string, body: StreamRequest): Promise<Response> {
    const existing = await this.store.listStreams(receiverId);
    if (existing.length >= this.#limits.maxStreamsPerReceiver) {
      throw refusal(
        'invalid_request',
        'too_many_streams',
        'this receiver has as many streams as allowed',
        409,
      );
    }
    const streamId = crypto.randomUUID();
    const now = this.#now();
    const stream: StoredStream = {
      streamId,
      receiverId,
      audience: this.#audience(receiverId, body.aud),
      eventsRequested: body.events_requested ?? [...REVOCATION_EVENT_TYPES],
      eventsDelivered: eventsDelivered(REVOCATION_EVENT_TYPES, body.events_requested),
      delivery: this.#delivery(streamId, body.delivery),
      ...(body.description !== undefined ? { description: body.description } : {}),
      status: 'enabled',
      createdAt: now,
      lastSeenAt: now,
    };
    await this.store.createStream(stream);
    await this.#seed(stream);
    return json(this.#configuration(stream), 201);
  }

  async #readStreams(receiverId: string, streamId: string | null): Promise<Response> {
    if (streamId !== null) return json(this.#configuration(await this.#owned(receiverId, streamId)));
    const streams = await this.store.listStreams(receiverId);
    return json(streams.map((stream) => this.#configuration(stream)));
  }

  async #updateStream(receiverId: string, body: StreamRequest, replace: boolean): Promise<Response> {
    const stream = await this.#owned(receiverId, body.stream_id);
    const requested = body.events_requested ?? (replace ? undefined : stream.eventsRequested);
    const updated: StoredStream = {
      ...stream,
      audience: body.aud !== undefined || replace ? this.#audience(receiverId, body.aud) : stream.audience,
      eventsRequested: requested ?? [...REVOCATION_EVENT_TYPES],
      eventsDelivered: eventsDelivered(REVOCATION_EVENT_TYPES, requested),
      delivery:
        body.delivery !== undefined || replace
          ? this.#delivery(stream.streamId, body.delivery)
          : stream.delivery,
    };
    delete updated.description;
    const description = body.description ?? (replace ? undefined : stream.description);
    if (description !== undefined) updated.description = description;
    if (!(await this.store.updateStream(updated))) throw streamNotFound();
    return json(this.#configuration(updated));
  }

  #audience(receiverId: string, requested: string | string[] | undefined): string[] {
    const allowed = this.#options.audiencesFor?.(receiverId) ?? [receiverId];
    if (requested === undefined) return [allowed[0] ?? receiverId];
    const audience = Array.isArray(requested) ? requested : [requested];
    if (audience.some((value) => !allowed.includes(value))) {
      throw refusal('invalid_request', 'audience_not_allowed', 'this receiver may not ask for that audience');
    }
    return [...new Set(audience)];
  }

  #delivery(streamId: string, requested: StreamRequest['delivery']): StreamDelivery {
    if (requested === undefined || requested.method === DELIVERY_METHODS.poll) {
      return { method: DELIVERY_METHODS.poll, endpointUrl: this.endpoints.poll(streamId) };
    }
    const url = new URL(requested.endpoint_url);
    const allowed =
      this.#options.pushEndpointAllowed ?? ((candidate: URL) => candidate.protocol === 'https:');
    if (url.username || url.password || !allowed(url)) {
      throw refusal('invalid_request', 'push_endpoint_not_allowed', 'SETs cannot be pushed to that endpoint');
    }
    return {
      method: DELIVERY_METHODS.push,
      endpointUrl: url.href,
      ...(requested.authorization_header ? { authorizationHeader: requested.authorization_header } : {}),
    };
  }

  #configuration(stream: StoredStream) {
    return streamConfiguration(stream, {
      issuer: this.issuer,
      eventsSupported: REVOCATION_EVENT_TYPES,
      inactivityTimeoutSeconds: this.#limits.inactivityTimeoutSeconds,
    });
  }

  // --- status (SSF 1.0 §8.1.2) and verification (§8.1.4) --------------------------------------

  async #updateStatus(receiverId: string, body: z.infer<typeof statusRequest>): Promise<Response> {
    const stream = await this.#owned(receiverId, body.stream_id);
    if (stream.status === body.status) return json(statusOf(stream));
    const wasDisabled = stream.status === 'disabled';
    const updated: StoredStream = { ...stream, status: body.status };
    delete updated.reason;
    if (body.reason !== undefined) updated.reason = body.reason;
    if (!(await this.store.setStatus(stream.streamId, body.status, body.reason))) throw streamNotFound();
    // A disabled stream holds nothing; one enabled again starts from what is in force now.
    if (body.status === 'disabled') await this.store.clearQueue(stream.streamId);
    else if (wasDisabled) await this.#seed(updated);
    // Never silent: the receiver hears of every status change (delivered even on a paused or disabled
    // stream), so one paused or disabled by someone else holding its client's credentials goes stale
    // (fails closed) instead of staying fresh while nothing reaches it.
    await this.#queueControl(
      updated,
      {
        type: EVENT_TYPES.streamUpdated,
        subject: { format: 'opaque', id: stream.streamId },
        payload: { status: body.status, ...(body.reason !== undefined ? { reason: body.reason } : {}) },
      },
      false,
    );
    this.#waiters.wake(stream.streamId);
    void this.deliverDue();
    return json(statusOf(updated));
  }

  async #verify(receiverId: string, body: z.infer<typeof verificationRequest>): Promise<Response> {
    const stream = await this.#owned(receiverId, body.stream_id);
    await this.#queueControl(stream, {
      type: EVENT_TYPES.verification,
      subject: { format: 'opaque', id: stream.streamId },
      payload: body.state !== undefined ? { state: body.state } : {},
    });
    void this.deliverDue();
    return new Response(null, { status: 204 });
  }

  // --- poll (RFC 8936) -------------------------------------------------------------------------

  async #poll(receiverId: string, streamId: string, request: Request): Promise<Response> {
    let stream = await this.#owned(receiverId, streamId);
    if (stream.delivery.method !== DELIVERY_METHODS.poll) throw streamNotFound();
    const body = await parseBody(request, pollRequest);
    // Acknowledgements and errors only ever remove SETs of this stream: another stream's jti is a no-op.
    const errors = Object.entries(body.setErrs ?? {});
    await this.store.acknowledge(stream.streamId, [...(body.ack ?? []), ...errors.map(([jti]) => jti)]);
    for (const [jti, { err }] of errors) this.#refused(stream, jti, err);
    if (errors.length) {
      const [jti, { err, description }] = errors.at(-1)!;
      await this.#recordError(stream.streamId, { jti, err, ...(description ? { description } : {}) });
    }
    const max = Math.min(body.maxEvents ?? 100, this.#limits.maxEventsPerPoll);
    const deadline = this.#now() + this.#limits.longPollMs;
    for (;;) {
      // Paused or disabled: only the stream's own SETs (stream-updated, verification) are delivered.
      const sets =
        max === 0 ? [] : await this.store.pending(stream.streamId, max + 1, stream.status !== 'enabled');
      const waiting = this.#now();
      if (
        sets.length > 0 ||
        max === 0 ||
        body.returnImmediately === true ||
        waiting >= deadline ||
        this.#closed ||
        request.signal?.aborted
      ) {
        const answer = Object.fromEntries(sets.slice(0, max).map((queued) => [queued.jti, queued.set]));
        return json({ sets: answer, moreAvailable: sets.length > max });
      }
      await this.#waiters.wait(
        stream.streamId,
        Math.min(this.#limits.pollCheckIntervalMs, deadline - waiting),
      );
      const current = await this.store.getStream(stream.streamId);
      if (!current) return json({ sets: {}, moreAvailable: false });
      stream = current;
    }
  }

  // --- queueing --------------------------------------------------------------------------------

  /** Queues every revocation in force on a stream, so a new (or re-enabled) receiver starts complete. */
  async #seed(stream: StoredStream): Promise<void> {
    const revocations = await this.#options.currentRevocations();
    if (!revocations.length) return;
    const events = eventsOfRevocations(revocations, {
      subjectIssuer: this.#options.subjectIssuer ?? this.issuer,
      at: Math.floor(this.#now() / 1000),
      initiatingEntity: 'system',
    });
    // Not bounded by `maxQueueLength`: the seed is what is in force, however much; a stream disabled
    // at birth for it would leave its receiver stale for good.
    await this.#queueEvents(stream, events, crypto.randomUUID(), false);
    void this.deliverDue();
  }

  /** Mints and queues the events this stream delivers; disables the stream if its queue overflows. */
  async #queueEvents(
    stream: StoredStream,
    events: readonly SecurityEvent[],
    txn: string,
    bounded = true,
  ): Promise<number> {
    const wanted = events.filter((event) => stream.eventsDelivered.includes(event.type));
    if (!wanted.length) return 0;
    const sets = await Promise.all(wanted.map((event) => this.#mint(stream, event, txn, false)));
    const length = await this.store.enqueue(stream.streamId, sets, this.#now());
    if (length === undefined) return 0;
    if (bounded && length > this.#limits.maxQueueLength) await this.#disableOverflowing(stream);
    this.#waiters.wake(stream.streamId);
    return sets.length;
  }

  /** Queues a stream-management SET; bounded like the others (a receiver calling verify in a loop fills only its own quota). */
  async #queueControl(stream: StoredStream, event: SecurityEvent, bounded = true): Promise<void> {
    const set = await this.#mint(stream, event, crypto.randomUUID(), true);
    const length = await this.store.enqueue(stream.streamId, [set], this.#now());
    if (bounded && length !== undefined && length > this.#limits.maxQueueLength) {
      await this.#disableOverflowing(stream);
    }
    this.#waiters.wake(stream.streamId);
  }

  /**
   * Bounded, not lossy in silence: a stream whose receiver does not keep up is disabled, its queue
   * dropped, and a `stream-updated` SET (delivered on the disabled stream) says why. The receiver
   * enables it again (status endpoint) or creates a new one; either is seeded with what is in force.
   */
  async #disableOverflowing(stream: StoredStream): Promise<void> {
    const reason = `more than ${this.#limits.maxQueueLength} SETs were waiting for the receiver`;
    if (!(await this.store.setStatus(stream.streamId, 'disabled', reason))) return;
    await this.store.clearQueue(stream.streamId);
    await this.#queueControl(
      stream,
      {
        type: EVENT_TYPES.streamUpdated,
        subject: { format: 'opaque', id: stream.streamId },
        payload: { status: 'disabled', reason },
      },
      false,
    );
  }

  async #mint(
    stream: StoredStream,
    event: SecurityEvent,
    txn: string,
    control: boolean,
  ): Promise<SetToQueue> {
    const jti = crypto.randomUUID();
    const set = await mintSecurityEventToken({
      issuer: this.issuer,
      audience: stream.audience.length === 1 ? stream.audience[0]! : stream.audience,
      events: [event],
      key: this.#options.key,
      txn,
      jti,
      issuedAt: Math.floor(this.#now() / 1000),
    });
    return { jti, set, control };
  }

  #refused(stream: StoredStream, jti: string, err: string): void {
    try {
      this.#options.onSetRefused?.({ streamId: stream.streamId, receiverId: stream.receiverId, jti, err });
    } catch {
      // A listener's failure must not stop delivery.
    }
  }

  async #recordError(
    streamId: string,
    error: { jti: string; err: string; description?: string },
  ): Promise<void> {
    await this.store.recordError(streamId, { ...error, at: this.#now() });
  }

  /**
   * Deletes the streams (and their queues) whose receiver has not been seen for
   * `inactivityTimeoutSeconds`: not polled, no push accepted, no request about them. The retry loop
   * runs it once a minute. Resolves to the deleted stream ids.
   */
  async expireInactive(): Promise<string[]> {
    const expired = await this.store.expireStreams(
      this.#now() - this.#limits.inactivityTimeoutSeconds * 1000,
    );
    for (const streamId of expired) this.#waiters.wake(streamId);
    return expired;
  }

  #tick(): void {
    if (this.#closed) return;
    void this.deliverDue();
    const now = this.#now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + SWEEP_EVERY_MS;
    this.expireInactive().catch((error: unknown) => this.#options.onError?.(error));
  }
}

const statusRequest = z.object({
  stream_id: z.string().min(1).max(256),
  status: z.enum(['enabled', 'paused', 'disabled']),
  reason: z.string().max(1024).optional(),
});

const verificationRequest = z.object({
  stream_id: z.string().min(1).max(256),
  state: z.string().max(1024).optional(),
});

function statusOf(stream: StoredStream): { stream_id: string; status: StreamStatus; reason?: string } {
  return {
    stream_id: stream.streamId,
    status: stream.status,
    ...(stream.reason !== undefined ? { reason: stream.reason } : {}),
  };
}

function json(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: { 'cache-control': 'no-store' } });
}

function notAllowed(): TransmitterRefusal {
  return refusal('method_not_allowed', 'method_not_allowed', 'method not allowed here');
}
