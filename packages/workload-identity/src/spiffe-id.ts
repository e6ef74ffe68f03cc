import { SpiffeIdError } from './errors.ts';

/** A parsed SPIFFE ID: `spiffe://<trustDomain><path>`. */
export interface SpiffeId {
  /** The ID as given (already in canonical form: parsing accepts nothing else). */
  readonly id: string;
  readonly trustDomain: string;
  /** `''` for a trust domain's own ID, else `/segment/…`. */
  readonly path: string;
}

const SCHEME = 'spiffe://';
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[a-zA-Z0-9._-]+$/;

/**
 * Parses a SPIFFE ID by the rules of SPIFFE-ID §2 as the reference implementations apply them: the
 * `spiffe` scheme (exactly, lower case), a non-empty trust domain of `[a-z0-9._-]` of at most 255 bytes
 * (so no userinfo, no port, no upper case), and a path of non-empty segments of `[a-zA-Z0-9._-]` that
 * are not `.` or `..`, with no trailing `/` (so no percent-encoding, query or fragment); at most 2048
 * bytes in all. A trust domain's own ID (no path) parses; a workload's needs a path
 * (`isWorkloadSpiffeId`). Throws `SpiffeIdError` with the broken rule as `reason`.
 *
 * @example
 * parseSpiffeId('spiffe://baton.test/orders-api'); // { trustDomain: 'baton.test', path: '/orders-api', … }
 */
export function parseSpiffeId(value: string): SpiffeId {
  if (typeof value !== 'string' || !value.startsWith(SCHEME))
    throw new SpiffeIdError('scheme_invalid', 'a SPIFFE ID starts with spiffe://');
  // Only ASCII passes the character rules below, so the length in characters is the length in bytes.
  if (value.length > MAX_ID_LENGTH)
    throw new SpiffeIdError('too_long', `a SPIFFE ID has at most ${MAX_ID_LENGTH} bytes`);
  const rest = value.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain === '') throw new SpiffeIdError('trust_domain_missing', 'a SPIFFE ID names a trust domain');
  if (!TRUST_DOMAIN.test(trustDomain))
    throw new SpiffeIdError(
      'trust_domain_invalid',
      'a trust domain has only lower-case letters, digits, ".", "-" and "_" (no port, no userinfo)',
    );
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH)
    throw new SpiffeIdError('trust_domain_too_long', 'a trust domain has at most 255 bytes');
  if (path !== '') {
    for (const segment of path.slice(1).split('/')) {
      if (segment === '')
        throw new SpiffeIdError(
          'path_segment_empty',
          'a SPIFFE ID path has no empty segment or trailing "/"',
        );
      if (segment === '.' || segment === '..')
        throw new SpiffeIdError('path_segment_dot', 'a SPIFFE ID path has no "." or ".." segment');
      if (!PATH_SEGMENT.test(segment))
        throw new SpiffeIdError(
          'path_invalid',
          'a SPIFFE ID path has only letters, digits, ".", "-" and "_" (no query, fragment or %-encoding)',
        );
    }
  }
  return { id: value, trustDomain, path };
}

/**
 * Whether `value` is a workload's SPIFFE ID: a valid one with a path (X509-SVID §3.1: a leaf
 * certificate's SPIFFE ID has a non-root path; the trust domain's own ID names its CA). Never throws.
 *
 * @example
 * isWorkloadSpiffeId('spiffe://baton.test/orders-api'); // true
 * isWorkloadSpiffeId('spiffe://baton.test'); // false
 */
export function isWorkloadSpiffeId(value: string): boolean {
  try {
    return parseSpiffeId(value).path !== '';
  } catch {
    return false;
  }
}
