import type { ProtocolRefusal } from './refusal.ts';
import { REFUSAL_ERRORS, type RefusalError } from './refusal-errors.ts';

/** The public answer to a refusal: status and the RFC 6749 §5.2-shaped body. */
export interface RefusalAnswer {
  status: number;
  body: { error: RefusalError; error_description: string } | Record<string, never>;
}

/**
 * The one place a refusal becomes its answer: its status, and a body of its RFC `error` and public
 * description (an empty body for `credentials_missing`). Never the reason, the detail or the cause.
 *
 * @example
 * const { status, body } = refusalAnswer(refusal);
 * return Response.json(body, { status });
 */
export function refusalAnswer(refusal: ProtocolRefusal): RefusalAnswer {
  return {
    status: refusal.status,
    body: refusal.error === undefined ? {} : { error: refusal.error, error_description: refusal.description },
  };
}

/**
 * The `error` and `error_description` parameters of an RFC 6750 §3 `WWW-Authenticate: Bearer`
 * challenge for this refusal, or `undefined` when its code is not a bearer error (a request without
 * credentials, an unavailable dependency, a non-bearer refusal).
 */
export function bearerChallengeError(
  refusal: ProtocolRefusal,
): { error: RefusalError; error_description: string } | undefined {
  const entry = REFUSAL_ERRORS[refusal.code];
  if (!entry.bearer || refusal.error === undefined) return undefined;
  return { error: refusal.error, error_description: refusal.description };
}
