import { ProtocolRefusal, type RefusalCode, refusalAnswer } from '@baton/core';

/** Why a Shared Signals management or poll request was refused (private: logs only, never on the wire). */
export type TransmitterRefusalReason =
  | 'credentials_missing'
  | 'receiver_unauthenticated'
  | 'stream_not_found'
  | 'request_malformed'
  | 'delivery_method_unsupported'
  | 'push_endpoint_not_allowed'
  | 'audience_not_allowed'
  | 'too_many_streams'
  | 'method_not_allowed'
  | 'endpoint_not_found';

/** A refused Shared Signals request: an RFC error code, its status, a public description. */
export class TransmitterRefusal extends ProtocolRefusal<TransmitterRefusalReason> {
  override name = 'TransmitterRefusal';
}

export function refusal(
  code: RefusalCode,
  reason: TransmitterRefusalReason,
  description: string,
  status?: number,
): TransmitterRefusal {
  return new TransmitterRefusal({ code, reason, description, ...(status ? { status } : {}) });
}

/**
 * Another receiver's stream is answered exactly like a stream that does not exist (404), so a
 * receiver learns nothing about streams it does not own.
 */
export const streamNotFound = () => refusal('invalid_request', 'stream_not_found', 'no such stream', 404);

/** The response to a refusal: its status, the RFC 6749-shaped body, and a Bearer challenge on 401. */
export function refusalResponse(error: TransmitterRefusal): Response {
  const { status, body } = refusalAnswer(error);
  const headers = new Headers({ 'cache-control': 'no-store' });
  if (status === 401) {
    headers.set(
      'www-authenticate',
      error.error ? `Bearer error="${error.error}", error_description="${error.description}"` : 'Bearer',
    );
  }
  return Response.json(body, { status, headers });
}
