import { BearerError, invalidDpopProof } from './errors.ts';

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Reads the bearer token from an `Authorization` header value (RFC 6750 §2.1). No header means no
 * credentials (a 401 without an error code, §3.1); anything else that is not exactly one bearer
 * token is a malformed request (400 `invalid_request`). Tokens in query strings or bodies are not read.
 */
export function extractBearerToken(authorization: string | null | undefined): string {
  if (authorization === null || authorization === undefined || authorization === '') {
    throw new BearerError({
      error: undefined,
      status: 401,
      reason: 'token_missing',
      description: 'an access token is required',
    });
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  const token = space === -1 ? '' : authorization.slice(space + 1);
  if (scheme.toLowerCase() !== 'bearer' || !B64TOKEN.test(token)) {
    throw new BearerError({
      error: 'invalid_request',
      status: 400,
      reason: 'authorization_header_malformed',
      description: "the Authorization header must be 'Bearer' followed by one token",
    });
  }
  return token;
}

/** The access token of a request, with the scheme it came under and its `DPoP` proof, if any. */
export interface PresentedToken {
  /** `bearer` (RFC 6750 §2.1) or `dpop` (RFC 9449 §7.1). */
  scheme: 'bearer' | 'dpop';
  token: string;
  /** The request's one `DPoP` header (RFC 9449 §4.1), whichever the scheme. */
  proof: string | undefined;
}

/**
 * Reads the access token from `Authorization: Bearer <token>` or `Authorization: DPoP <token>` and the
 * `DPoP` proof header. No `Authorization` header means no credentials (401 without an error code);
 * another scheme or anything but one token is 400 `invalid_request`; more than one `DPoP` header
 * (joined by a comma, which a JWS never contains) is `invalid_dpop_proof` (RFC 9449 §4.3 step 1).
 * Whether the token must be DPoP-bound is decided after it verifies (`SenderConstraints`).
 *
 * @example
 * const { scheme, token, proof } = extractAccessToken(request.headers);
 */
export function extractAccessToken(headers: Headers): PresentedToken {
  const authorization = headers.get('authorization');
  const proof = headers.get('dpop') ?? undefined;
  if (proof?.includes(','))
    throw invalidDpopProof('dpop_header_repeated', 'a request carries at most one DPoP proof');
  if (authorization !== null && /^dpop /i.test(authorization)) {
    const token = authorization.slice('DPoP '.length);
    if (!B64TOKEN.test(token))
      throw new BearerError({
        error: 'invalid_request',
        status: 400,
        reason: 'authorization_header_malformed',
        description: "the Authorization header must be 'DPoP' followed by one token",
      });
    return { scheme: 'dpop', token, proof };
  }
  return { scheme: 'bearer', token: extractBearerToken(authorization), proof };
}
