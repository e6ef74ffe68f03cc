import {
  decodeCompact,
  ENVELOPE_ALGORITHMS,
  type EnvelopeAlgorithm,
  isEnvelopeAlgorithm,
} from './compact-jws.ts';
import { deepFreeze } from './deep-freeze.ts';
import { type Envelope, EnvelopeSchema } from './envelope.ts';
import { EnvelopeError } from './errors.ts';
import { summarize } from './issuer.ts';
import { unixNow } from './key-ring.ts';
import type { EnvelopeKeyResolver } from './key-sources.ts';
import { TXN_TOKEN_TYP } from './txn-token.ts';

export interface VerifyEnvelopeOptions {
  /** Accepted issuer(s) (`iss`), compared exactly. Required. */
  issuer: string | readonly string[];
  /** The verifier's trust domain (`aud`), compared exactly. Required. */
  trustDomain: string;
  /** Where verification keys come from: `keyRingResolver`, `localJwksResolver` or `remoteJwksResolver`. */
  keys: EnvelopeKeyResolver;
  /** Algorithm allow-list. Default: every envelope algorithm (`ES256`, `ES384`, `EdDSA`); never `none` or HMAC. */
  algorithms?: readonly EnvelopeAlgorithm[];
  /** Allowed clock skew in seconds for `iat`/`exp`. Default 30. */
  clockToleranceSeconds?: number;
  /** Longest lifetime (`exp - iat`) accepted, in seconds. Default 900. */
  maxLifetimeSeconds?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Verifies an envelope's compact JWS and returns the deeply frozen envelope, or throws an
 * `EnvelopeError` whose `code` says exactly why.
 *
 * Checks, in order: compact form, `alg` allow-list, `typ` = `txntoken+jwt`, `kid` known for that `alg`,
 * signature, `iss`, `aud` (trust domain), `iat`/`exp` with skew, lifetime bound, the envelope schema
 * (including `req_wl`, `tctx` and `rctx`), and that the Txn-Token mirror claims (`sub`, `scope`, `txn`)
 * agree with the named sections.
 * It does not check replay or which downstream service is calling: that is the caller's context.
 *
 * @example
 * const envelope = await verifyEnvelope(request.headers.get('txn-token'), {
 *   issuer: 'https://orders.example/mcp', trustDomain: 'example', keys: remoteJwksResolver(jwksUrl),
 * });
 */
export async function verifyEnvelope(token: string, options: VerifyEnvelopeOptions): Promise<Envelope> {
  const algorithms = options.algorithms ?? ENVELOPE_ALGORITHMS;
  const issuers: readonly string[] = typeof options.issuer === 'string' ? [options.issuer] : options.issuer;
  if (issuers.length === 0 || issuers.some((value) => typeof value !== 'string' || value === '')) {
    throw new TypeError('verifyEnvelope: issuer is required');
  }
  if (typeof options.trustDomain !== 'string' || options.trustDomain === '') {
    throw new TypeError('verifyEnvelope: trustDomain is required');
  }
  if (typeof options.keys !== 'function')
    throw new TypeError('verifyEnvelope: keys (a key resolver) are required');

  const decoded = decodeCompact(token);
  const { alg, typ, kid, crit } = decoded.header;
  if (!isEnvelopeAlgorithm(alg) || !algorithms.includes(alg)) {
    throw new EnvelopeError('ERR_ENVELOPE_ALG_NOT_ALLOWED', `envelope alg ${describe(alg)} is not allowed`);
  }
  if (typ !== TXN_TOKEN_TYP) {
    throw new EnvelopeError('ERR_ENVELOPE_TYP_INVALID', `envelope typ must be ${TXN_TOKEN_TYP}`);
  }
  if (crit !== undefined) {
    // RFC 7515 §4.1.11: we understand no extensions, so any `crit` must be refused.
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', 'envelope header has unsupported crit extensions');
  }
  if (typeof kid !== 'string' || kid === '') {
    throw new EnvelopeError('ERR_ENVELOPE_KEY_UNKNOWN', 'envelope header has no kid');
  }
  const resolved = await options.keys(kid, alg);
  if (!resolved || resolved.alg !== alg) {
    throw new EnvelopeError('ERR_ENVELOPE_KEY_UNKNOWN', 'no trusted key for the envelope kid and alg');
  }
  const claims = decoded.verifyWith(resolved.key, alg);

  if (typeof claims.iss !== 'string' || !issuers.includes(claims.iss)) {
    throw new EnvelopeError('ERR_ENVELOPE_ISSUER_INVALID', 'envelope issuer is not trusted');
  }
  if (claims.aud !== options.trustDomain) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_TRUST_DOMAIN_INVALID',
      'envelope was minted for another trust domain',
    );
  }
  const now = (options.now ?? unixNow)();
  const tolerance = options.clockToleranceSeconds ?? 30;
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number') {
    throw new EnvelopeError('ERR_ENVELOPE_CLAIMS_INVALID', 'envelope must carry numeric iat and exp');
  }
  if (exp <= now - tolerance) throw new EnvelopeError('ERR_ENVELOPE_EXPIRED', 'envelope has expired');
  if (iat > now + tolerance)
    throw new EnvelopeError('ERR_ENVELOPE_NOT_YET_VALID', 'envelope is issued in the future');
  if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) {
    throw new EnvelopeError('ERR_ENVELOPE_NOT_YET_VALID', 'envelope is not valid yet (nbf)');
  }
  if (exp - iat > (options.maxLifetimeSeconds ?? 900)) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_LIFETIME_TOO_LONG',
      'envelope lifetime exceeds the verifier maximum',
    );
  }

  // `tctx` is the delegation (mode, allowed, chain) plus the asserted `details`; a `tctx` that is not an
  // object leaves the delegation missing, which the schema refuses.
  const tctx = isObject(claims.tctx) ? claims.tctx : {};
  const { details, ...delegation } = tctx;
  const parsed = EnvelopeSchema.safeParse({
    id: claims.jti,
    issuer: claims.iss,
    trust_domain: claims.aud,
    requesting_workload: claims.req_wl,
    issued_at: iat,
    expires_at: exp,
    actor: claims.actor,
    agent: claims.agent,
    session: claims.session,
    authorization: claims.authorization,
    delegation: isObject(claims.tctx) ? delegation : undefined,
    ...(details === undefined ? {} : { details }),
    ...(claims.rctx === undefined ? {} : { request_context: claims.rctx }),
  });
  if (!parsed.success) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_CLAIMS_INVALID',
      `envelope claims are invalid: ${summarize(parsed.error)}`,
    );
  }
  const envelope = parsed.data;
  if (
    claims.sub !== envelope.actor.sub ||
    claims.scope !== envelope.authorization.scopes.join(' ') ||
    claims.txn !== envelope.session.trace_id
  ) {
    throw new EnvelopeError(
      'ERR_ENVELOPE_CLAIMS_INVALID',
      'envelope Txn-Token claims (sub, scope, txn) disagree with its sections',
    );
  }
  return deepFreeze(envelope);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 32)) : typeof value;
}
