import type { IncomingMessage } from 'node:http';
import { isWellFormedHost } from '../host-syntax.ts';
import { type MalformedRequest, malformedRequest } from '../malformed-request.ts';

/**
 * Methods a Baton component serves unless told otherwise. `CONNECT`, `TRACE` and `TRACK` can never
 * be among them: a web `Request` refuses to carry them (Fetch "forbidden methods").
 */
export const DEFAULT_SERVED_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);

const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** RFC 9112 §3 recommends supporting request lines of at least 8000 octets; longer is refused (414). */
const MAX_REQUEST_TARGET_LENGTH = 8000;

/** The served-method set for `malformedNodeRequest`, checked once when an adapter is built. */
export function servedMethods(methods: readonly string[] = DEFAULT_SERVED_METHODS): ReadonlySet<string> {
  const set = new Set<string>();
  for (const method of methods) {
    if (typeof method !== 'string' || !/^[A-Z]+$/.test(method))
      throw new TypeError('served methods must be upper-case method names');
    if (FORBIDDEN_METHODS.has(method))
      throw new TypeError(`${method} cannot be served: a web Request cannot carry it`);
    set.add(method);
  }
  return set;
}

/**
 * What is wrong with a request Node's parser accepted but a web `Request` (or Baton) cannot take,
 * before anything is converted: a method that is not served, a request target that is not an
 * absolute path (absolute-form, asterisk-form) or is too long, no Host, two Hosts or a malformed one
 * (RFC 9112 §3.2: 400), and more than one `Authorization` header (RFC 6750 §2). Node keeps only the
 * first `Host` and `Authorization` in `headers` and drops the rest, so `rawHeaders` is scanned, once.
 * `undefined` means the request may be converted and handled.
 */
export function malformedNodeRequest(
  request: Pick<IncomingMessage, 'method' | 'url' | 'headers' | 'rawHeaders'>,
  methods: ReadonlySet<string>,
): MalformedRequest | undefined {
  if (!methods.has(request.method ?? '')) return malformedRequest('method_not_allowed');
  const target = request.url ?? '';
  if (target.charCodeAt(0) !== 0x2f /* / */) return malformedRequest('request_target_invalid');
  if (target.length > MAX_REQUEST_TARGET_LENGTH) return malformedRequest('request_target_too_long');
  const raw = request.rawHeaders;
  let hosts = 0;
  let authorizations = 0;
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!;
    if (name.length === 4) {
      if (name.toLowerCase() === 'host') hosts += 1;
    } else if (name.length === 13 && name.toLowerCase() === 'authorization') {
      authorizations += 1;
    }
  }
  if (hosts === 0) return malformedRequest('host_missing');
  if (hosts > 1) return malformedRequest('host_duplicated');
  if (!isWellFormedHost(request.headers.host ?? '')) return malformedRequest('host_invalid');
  if (authorizations > 1) return malformedRequest('authorization_header_duplicated');
  return undefined;
}
