import { BearerError } from './errors.ts';

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
