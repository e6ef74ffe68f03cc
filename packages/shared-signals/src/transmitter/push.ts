import { SECEVENT_TYP } from '../set/mint.ts';
import type { StreamDelivery } from './stream.ts';

/** What one push attempt came to. */
export type PushOutcome =
  | { kind: 'delivered' }
  /** RFC 8935 §2.3: the receiver refused this SET for good (400 with `err`); it is not sent again. */
  | { kind: 'refused'; err: string; description?: string }
  /** Unreachable, timed out, 5xx, or anything else: retried with backoff while the stream exists. */
  | { kind: 'retry'; why: string; status?: number };

/**
 * One RFC 8935 push: `POST` the SET as `application/secevent+jwt` to the stream's endpoint, with the
 * `Authorization` header the receiver configured. 202 is delivered; 400 with an `err` member is a
 * permanent refusal of this SET; anything else (network error, timeout, redirect, 5xx, 401) is
 * retried. Redirects are not followed.
 */
export async function pushSet(
  fetcher: typeof fetch,
  delivery: Extract<StreamDelivery, { method: 'urn:ietf:rfc:8935' }>,
  set: string,
  timeoutMs: number,
): Promise<PushOutcome> {
  let response: Response;
  try {
    response = await fetcher(delivery.endpointUrl, {
      method: 'POST',
      headers: {
        'content-type': `application/${SECEVENT_TYP}`,
        accept: 'application/json',
        ...(delivery.authorizationHeader ? { authorization: delivery.authorizationHeader } : {}),
      },
      body: set,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    return { kind: 'retry', why: error instanceof Error ? error.name : 'fetch failed' };
  }
  if (response.status === 202) {
    await response.body?.cancel().catch(() => {});
    return { kind: 'delivered' };
  }
  if (response.status === 400) {
    const body = (await response.json().catch(() => undefined)) as
      | { err?: unknown; description?: unknown }
      | undefined;
    if (typeof body?.err === 'string' && body.err !== '') {
      return {
        kind: 'refused',
        err: body.err.slice(0, 64),
        ...(typeof body.description === 'string' ? { description: body.description.slice(0, 256) } : {}),
      };
    }
    return { kind: 'retry', why: 'status 400 without err', status: 400 };
  }
  await response.body?.cancel().catch(() => {});
  return { kind: 'retry', why: `status ${response.status}`, status: response.status };
}
