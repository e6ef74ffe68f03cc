import { bearerChallenge } from './challenge.ts';
import { BearerError } from './errors.ts';
import { isWellFormedHost } from './host-syntax.ts';

/**
 * Why a request was refused before anyone looked at its credentials, privately: stable codes for logs
 * and tests. On the wire there is only the status, `invalid_request` and a public description.
 */
export type MalformedRequestReason =
  | 'host_missing'
  | 'host_duplicated'
  | 'host_invalid'
  | 'method_not_allowed'
  | 'request_target_invalid'
  | 'request_target_too_long'
  | 'authorization_header_duplicated';

/** A request refused for its shape (RFC 9110/9112), never for who sent it. */
export interface MalformedRequest {
  readonly status: 400 | 405 | 414;
  /** Always `invalid_request` (RFC 6749 §5.2, RFC 6750 §3.1): the request is malformed. */
  readonly error: 'invalid_request';
  /** Public: safe to send, quotes nothing from the request. */
  readonly description: string;
  readonly reason: MalformedRequestReason;
}

/** The answer to a malformed request as plain values, for writers that are not web `Response`s. */
export interface MalformedRequestAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const DESCRIPTIONS: Record<MalformedRequestReason, string> = {
  host_missing: 'the request must carry a Host header',
  host_duplicated: 'the request must carry exactly one Host header',
  host_invalid: 'the Host header must be a host name or IP address with an optional port',
  method_not_allowed: 'this method is not served here',
  request_target_invalid: 'the request target must be an absolute path',
  request_target_too_long: 'the request target is too long',
  authorization_header_duplicated: 'the request must carry at most one Authorization header',
};

const STATUSES: Record<MalformedRequestReason, MalformedRequest['status']> = {
  host_missing: 400,
  host_duplicated: 400,
  host_invalid: 400,
  method_not_allowed: 405,
  request_target_invalid: 400,
  request_target_too_long: 414,
  authorization_header_duplicated: 400,
};

const REFUSALS = Object.fromEntries(
  (Object.keys(DESCRIPTIONS) as MalformedRequestReason[]).map((reason) => [
    reason,
    Object.freeze({
      status: STATUSES[reason],
      error: 'invalid_request',
      description: DESCRIPTIONS[reason],
      reason,
    }),
  ]),
) as Record<MalformedRequestReason, MalformedRequest>;

/** The one refusal for `reason` (frozen, shared: refusing allocates nothing). */
export function malformedRequest(reason: MalformedRequestReason): MalformedRequest {
  return REFUSALS[reason];
}

/**
 * Status, headers and an RFC 6749 §5.2-shaped JSON body for a malformed request. Two `Authorization`
 * headers are a bearer-token request error (RFC 6750 §2: one method, one token), so that answer also
 * carries the `WWW-Authenticate: Bearer error="invalid_request"` challenge; a 405 names the methods
 * that are served (RFC 9110 §15.5.6).
 */
export function malformedRequestAnswer(
  refusal: MalformedRequest,
  allowedMethods: readonly string[] = [],
): MalformedRequestAnswer {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  };
  if (refusal.reason === 'authorization_header_duplicated') {
    headers['www-authenticate'] = bearerChallenge(
      new BearerError({
        error: 'invalid_request',
        status: 400,
        reason: 'authorization_header_malformed',
        description: refusal.description,
      }),
    );
  }
  if (refusal.status === 405) headers.allow = allowedMethods.join(', ');
  return {
    status: refusal.status,
    headers,
    body: JSON.stringify({ error: refusal.error, error_description: refusal.description }),
  };
}

/** `malformedRequestAnswer` as a web `Response`. */
export function malformedRequestResponse(
  refusal: MalformedRequest,
  allowedMethods: readonly string[] = [],
): Response {
  const answer = malformedRequestAnswer(refusal, allowedMethods);
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

/** A request whose URL and host a handler can rely on. */
export interface RequestAddress {
  url: URL;
  /** The `Host` header, or the URL's host where a fetch runtime sends none. */
  host: string;
}

/**
 * The shape checks a fetch-style handler needs before it reads a URL or a Host (for a request that
 * came from Hono, Deno, Bun or a test, not through Baton's Node adapter): a URL that parses and a
 * well-formed Host. Returns the parsed address, or the refusal to answer with. Never throws.
 *
 * @example
 * const address = requestAddress(request);
 * if ('reason' in address) return malformedRequestResponse(address);
 * const path = address.url.pathname;
 */
export function requestAddress(request: Request): RequestAddress | MalformedRequest {
  let url: URL;
  let host: string | null;
  try {
    url = new URL(request.url);
    host = request.headers.get('host');
  } catch {
    return REFUSALS.request_target_invalid;
  }
  const effective = host ?? url.host;
  if (host === null && effective === '') return REFUSALS.host_missing;
  if (!isWellFormedHost(effective)) return REFUSALS.host_invalid;
  return { url, host: effective };
}
