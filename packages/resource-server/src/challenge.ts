import { bearerChallengeError, refusalAnswer } from '@baton/core';
import { BearerError } from './errors.ts';

export interface ChallengeOptions {
  /** RFC 9728 metadata URL, advertised as `resource_metadata` so clients can find the authorization server. */
  resourceMetadataUrl?: string;
  /** Scopes to advertise on a 401 (what basic access needs); a 403 advertises the error's required scopes. */
  scopes?: readonly string[];
  /**
   * The resource takes DPoP (RFC 9449 §7.1): a `DPoP` challenge with `algs` is sent, beside the
   * `Bearer` one while `bearer` tokens are still accepted. From `SenderConstraints.challenge()`.
   */
  dpop?: { algorithms: readonly string[]; bearer: boolean };
}

/** The errors that belong to the `DPoP` challenge only (RFC 9449 §7.1, §9). */
const DPOP_ERRORS = new Set(['invalid_dpop_proof', 'use_dpop_nonce']);

/**
 * The `WWW-Authenticate` value for a refusal (RFC 6750 §3, MCP authorization "scope challenge").
 * A request with no token gets a challenge without an error code (§3.1).
 */
export function bearerChallenge(error: BearerError, options: ChallengeOptions = {}): string {
  const parameters = commonParameters(error, options);
  const challenge = bearerChallengeError(error);
  if (challenge) {
    parameters.push(`error=${quote(challenge.error)}`);
    parameters.push(`error_description=${quote(challenge.error_description)}`);
  }
  return parameters.length > 0 ? `Bearer ${parameters.join(', ')}` : 'Bearer';
}

/**
 * The `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1): `algs` the resource accepts, the same
 * `resource_metadata` and `scope` as the Bearer challenge, and the error, whether a DPoP error
 * (`invalid_dpop_proof`, `use_dpop_nonce`) or an RFC 6750 one.
 */
export function dpopChallenge(
  error: BearerError,
  options: ChallengeOptions & { dpop: { algorithms: readonly string[] } },
): string {
  const parameters = [
    `algs=${quote(options.dpop.algorithms.join(' '))}`,
    ...commonParameters(error, options),
  ];
  const challenge =
    error.error !== undefined && DPOP_ERRORS.has(error.error)
      ? { error: error.error, error_description: error.description }
      : bearerChallengeError(error);
  if (challenge) {
    parameters.push(`error=${quote(challenge.error)}`);
    parameters.push(`error_description=${quote(challenge.error_description)}`);
  }
  return `DPoP ${parameters.join(', ')}`;
}

/**
 * Every challenge for a refusal, as one `WWW-Authenticate` value: `Bearer` alone at a bearer-only
 * resource; with DPoP, the challenge the error belongs to first (a client reading the first `error=`
 * reads the right one), `Bearer` only while bearer tokens are accepted.
 */
export function authenticateChallenges(error: BearerError, options: ChallengeOptions = {}): string {
  if (!options.dpop) return bearerChallenge(error, options);
  const dpop = dpopChallenge(error, { ...options, dpop: options.dpop });
  if (!options.dpop.bearer) return dpop;
  const bearer = bearerChallenge(error, options);
  return error.error !== undefined && DPOP_ERRORS.has(error.error)
    ? `${dpop}, ${bearer}`
    : `${bearer}, ${dpop}`;
}

function commonParameters(error: BearerError, options: ChallengeOptions): string[] {
  const parameters: string[] = [];
  if (options.resourceMetadataUrl) parameters.push(`resource_metadata=${quote(options.resourceMetadataUrl)}`);
  const scopes = error.error === 'insufficient_scope' ? error.requiredScopes : options.scopes;
  if (scopes && scopes.length > 0) parameters.push(`scope=${quote(scopes.join(' '))}`);
  return parameters;
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
  else headers.set('www-authenticate', authenticateChallenges(error, options));
  // RFC 9449 §8.1, §9: the nonce the next proof must carry.
  if (error.dpopNonce) headers.set('dpop-nonce', error.dpopNonce);
  return Response.json(body, { status, headers });
}

/** RFC 7230 quoted-string; descriptions are restricted to the RFC 6750 error_description character set. */
function quote(value: string): string {
  const safe = value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  return `"${safe}"`;
}
