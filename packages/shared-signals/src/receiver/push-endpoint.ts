import {
  isReceiverCondition,
  type SetErrorCode,
  type SetRefusalReason,
  SetRefused,
  setErrorOf,
} from '../set/refused.ts';
import {
  checkedVerifyOptions,
  type SetVerifyOptions,
  type VerifiedSet,
  verifySecurityEventToken,
} from '../set/verify.ts';
import { type ApplyOptions, applySet } from './apply.ts';
import type { FeedSource, RevocationFeed } from './feed.ts';

const SET_MEDIA_TYPE = 'application/secevent+jwt';

export interface PushEndpointOptions extends ApplyOptions {
  /** The feed the SETs are applied to; the endpoint registers itself as its source `push`. */
  feed: RevocationFeed;
  /** How SETs are verified (issuer, audience, keys, replay guard). */
  verify: SetVerifyOptions;
  /**
   * The exact `Authorization` header value the transmitter must send (the stream's
   * `delivery.authorization_header`), compared in constant time. Absent: no check, so the endpoint
   * relies on the SET signature alone.
   */
  authorization?: string;
  /** The largest body taken, bytes. Default 65,536. */
  maxBodyBytes?: number;
  /** Told of every refused SET (status, RFC 8935 code and private reason), for the receiver's log. Never the SET. */
  onRefused?: (refusal: { err: SetErrorCode; reason: SetRefusalReason; detail: string | undefined }) => void;
  /** Told of a failure that is not the SET's (the transmitter's JWKS unreachable); answered 503. */
  onerror?: (error: unknown) => void;
}

/** A runtime-neutral fetch handler; on `node:http`, serve it with `@baton/resource-server/node`'s `nodeRequestListener({ fetch: handler })`. */
export type PushHandler = ((request: Request) => Promise<Response>) & {
  /** Unregisters the endpoint's feed source. */
  close(): void;
};

/**
 * An RFC 8935 push receiver: takes `POST` with `Content-Type: application/secevent+jwt`, verifies the
 * SET, applies it to the feed and answers `202`. A refused SET is answered `400` with the RFC 8935
 * §2.3 body `{ "err", "description" }` and is not applied; a failure that is not the SET's (its keys
 * unreachable) is answered `503`, so the transmitter retries. Never echoes the SET.
 *
 * @example
 * const feed = new RevocationFeed({ maxStalenessMs: 30_000 });
 * const handler = createPushEndpoint({ feed, verify: { issuer, audience, keys, replay: new MemoryReplayGuard() } });
 * // Hono: app.post('/ssf/push', (c) => handler(c.req.raw))
 */
export function createPushEndpoint(options: PushEndpointOptions): PushHandler {
  if (!options?.feed || !options.verify) throw new TypeError('createPushEndpoint needs { feed, verify }');
  checkedVerifyOptions(options.verify);
  const source: FeedSource = options.feed.source('push');
  const feed = options.feed;
  const handler = setPushHandler({
    ...options,
    // A SET this receiver could not take (its keys unreachable, its replay guard full): stale until
    // the transmitter's retry is taken.
    onerror: (error) => {
      source.lost();
      options.onerror?.(error);
    },
    verify: (jwt) => verifySecurityEventToken(jwt, options.verify),
    receive: (set) => {
      applySet(feed, source, set, options);
    },
  });
  return Object.assign(handler, { close: () => source.remove() });
}

export interface SetPushHandlerOptions
  extends Pick<PushEndpointOptions, 'authorization' | 'maxBodyBytes' | 'onRefused' | 'onerror'> {
  /** Verifies one SET (throws `SetRefused`), e.g. `verifySecurityEventToken` with a receiver's options. */
  verify: (jwt: string) => Promise<VerifiedSet>;
  /**
   * What the receiver does with a verified SET; the transmitter gets `202` once it resolves. It may
   * throw `SetRefused` (answered `400`); anything else is answered `503`, so the SET is sent again.
   */
  receive: (set: VerifiedSet) => void | Promise<void>;
}

/**
 * The HTTP side of an RFC 8935 push receiver, whatever the receiver does with a SET: `POST` with
 * `Content-Type: application/secevent+jwt`, the optional `Authorization` check, a bounded body, then
 * `verify` and `receive`; `202`, `400` with the RFC 8935 §2.3 body, or `503` (retry). Never echoes the
 * SET. `createPushEndpoint` applies SETs to a feed with it; the broker revokes with it.
 */
export function setPushHandler(options: SetPushHandlerOptions): (request: Request) => Promise<Response> {
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const expected = options.authorization;
  if (expected !== undefined && (typeof expected !== 'string' || expected.length === 0)) {
    throw new TypeError('authorization must be the non-empty header value the transmitter sends');
  }
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'POST') {
      return new Response(null, { status: 405, headers: { allow: 'POST', 'cache-control': 'no-store' } });
    }
    if (!acceptsJson(request.headers.get('accept'))) {
      return new Response(null, { status: 406, headers: { 'cache-control': 'no-store' } });
    }
    try {
      if (
        expected !== undefined &&
        !(await sameSecret(request.headers.get('authorization') ?? '', expected))
      ) {
        throw new SetRefused(
          'authentication_failed',
          'authorization_failed',
          'the transmitter is not authenticated',
        );
      }
      if (mediaType(request.headers.get('content-type')) !== SET_MEDIA_TYPE) {
        throw new SetRefused('invalid_request', 'content_type_invalid', `the body must be ${SET_MEDIA_TYPE}`);
      }
      const jwt = (await boundedText(request, maxBodyBytes)).trim();
      await options.receive(await options.verify(jwt));
      return new Response(null, { status: 202, headers: { 'cache-control': 'no-store' } });
    } catch (error) {
      // A refusal that is this receiver's condition (replay guard full, its clock) is answered like an
      // outage: 503, so the transmitter sends the SET again rather than drop it as refused.
      if (error instanceof SetRefused && !isReceiverCondition(error)) {
        try {
          options.onRefused?.({ err: error.err, reason: error.reason, detail: error.detail });
        } catch {
          // Logging is best effort.
        }
        return Response.json(setErrorOf(error), { status: 400, headers: { 'cache-control': 'no-store' } });
      }
      try {
        options.onerror?.(error);
      } catch {
        // Reporting is best effort.
      }
      return new Response(null, {
        status: 503,
        headers: { 'cache-control': 'no-store', 'retry-after': '1' },
      });
    }
  };
}

function mediaType(value: string | null): string {
  return (value ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** RFC 8935 §2.1: the transmitter asks for `application/json`; no `Accept` accepts anything. */
function acceptsJson(accept: string | null): boolean {
  if (accept === null || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const type = mediaType(range);
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

/** Reads at most `limit` bytes of the body, refusing a larger one without reading it all. */
async function boundedText(request: Request, limit: number): Promise<string> {
  const tooLarge = () => new SetRefused('invalid_request', 'body_too_large', 'the body is too large');
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw tooLarge();
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SetRefused('invalid_request', 'malformed', 'the body is not UTF-8');
  }
}

/** Compares two header values in time independent of where they differ (digests of equal length). */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= (x[i] as number) ^ (y[i] as number);
  return difference === 0;
}
