import { z } from 'zod';
import { DELIVERY_METHODS } from '../events.ts';
import { refusal } from './refusal.ts';
import type { StoredStream } from './stream.ts';

/**
 * What a receiver may send when it creates (POST), updates (PATCH) or replaces (PUT) a stream
 * (SSF 1.0 §8.1.1). Transmitter-supplied properties (`iss`, `events_supported`, `events_delivered`,
 * `min_verification_interval`, `inactivity_timeout`) are accepted and ignored.
 */
const deliveryRequest = z.discriminatedUnion('method', [
  z.object({
    method: z.literal(DELIVERY_METHODS.push),
    endpoint_url: z.string().url().max(2048),
    authorization_header: z.string().min(1).max(4096).optional(),
  }),
  // The transmitter assigns the poll endpoint; a URL the receiver sends is ignored.
  z.object({ method: z.literal(DELIVERY_METHODS.poll), endpoint_url: z.string().optional() }),
]);

export const streamRequest = z.object({
  stream_id: z.string().min(1).max(256).optional(),
  aud: z.union([z.string().min(1).max(1024), z.array(z.string().min(1).max(1024)).min(1).max(16)]).optional(),
  delivery: deliveryRequest.optional(),
  events_requested: z.array(z.string().min(1).max(512)).max(64).optional(),
  description: z.string().max(1024).optional(),
});

export type StreamRequest = z.infer<typeof streamRequest>;

/** Parses a JSON body against a schema, or refuses with `invalid_request` (400). */
export async function parseBody<T>(request: Request, schema: z.ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw refusal('invalid_request', 'request_malformed', 'the body is not JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw refusal(
      'invalid_request',
      'request_malformed',
      'the body is not a valid request for this endpoint',
    );
  }
  return parsed.data;
}

/**
 * The stream configuration as SSF 1.0 §8.1.1 returns it. The push `authorization_header` is
 * write-only: a receiver's secret is never sent back.
 */
export function streamConfiguration(
  stream: StoredStream,
  transmitter: { issuer: string; eventsSupported: readonly string[]; inactivityTimeoutSeconds: number },
) {
  return {
    stream_id: stream.streamId,
    iss: transmitter.issuer,
    aud: stream.audience.length === 1 ? stream.audience[0] : stream.audience,
    delivery: { method: stream.delivery.method, endpoint_url: stream.delivery.endpointUrl },
    events_supported: transmitter.eventsSupported,
    events_requested: stream.eventsRequested,
    events_delivered: stream.eventsDelivered,
    ...(stream.description !== undefined ? { description: stream.description } : {}),
    inactivity_timeout: transmitter.inactivityTimeoutSeconds,
  };
}

/** `events_delivered`: what the receiver asked for that the transmitter sends (all of them when it asked for nothing). */
export function eventsDelivered(
  supported: readonly string[],
  requested: readonly string[] | undefined,
): string[] {
  return requested === undefined ? [...supported] : supported.filter((type) => requested.includes(type));
}
