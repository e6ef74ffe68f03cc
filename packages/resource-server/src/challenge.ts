import { bearerChallengeError, refusalAnswer } from '@baton/core';
import { BearerError } from './errors.ts';

export interface ChallengeOptions {
  /** RFC 9728 metadata URL, advertised as `resource_metadata` so clients can find the authorization server. */
  resourceMetadataUrl?: string;
  /** Scopes to advertise on a 401 (what basic access needs); a 403 advertises the error's required scopes. */
  scopes?: readonly string[];
}

/**
 * The `WWW-Authenticate` value for a refusal (RFC 6750 §3, MCP authorization "scope challenge").
 * A request with no token gets a challenge without an error code (§3.1).
 */
export function bearerChallenge(error: BearerError, options: ChallengeOptions = {}): string {
  const parameters: string[] = [];
  if (options.resourceMetadataUrl) parameters.push(`resource_metadata=${quote(options.resourceMetadataUrl)}`);
  const scopes = error.error === 'insufficient_scope' ? error.requiredScopes : options.scopes;
  if (scopes && scopes.length > 0) parameters.push(`scope=${quote(scopes.join(' '))}`);
  const challenge = bearerChallengeError(error);
  if (challenge) {
    parameters.push(`error=${quote(challenge.error)}`);
    parameters.push(`error_description=${quote(challenge.error_description)}`);
  }
  return parameters.length > 0 ? `Bearer ${parameters.join(', ')}` : 'Bearer';
}

/**
 * Turns any failure into the HTTP answer: `BearerError`s keep their status and challenge (status and
 * body from `@baton/core`'s `refusalAnswer`); anything else becomes a 500 that says nothing about its
 * cause. The body is RFC 6749 §5.2-shaped JSON.
 */
export function bearerErrorResponse(error: unknown, options: ChallengeOptions = {}): Response {
  if (!(error instanceof BearerError)) {
    return Response.json({ error: 'server_error', error_description: 'internal error' }, { status: 500 });
  }
  const { status, body } = refusalAnswer(error);
  const headers = new Headers({ 'cache-control': 'no-store' });
  if (status === 503) headers.set('retry-after', '5');
  else headers.set('www-authenticate', bearerChallenge(error, options));
  return Response.json(body, { status, headers });
}

/** RFC 7230 quoted-string; descriptions are restricted to the RFC 6750 error_description character set. */
function quote(value: string): string {
  const safe = value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  return `"${safe}"`;
}
