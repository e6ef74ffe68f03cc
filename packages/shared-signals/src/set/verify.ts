import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { EVENT_TYPES, type EventType, type SecurityEvent, type SubjectIdentifier } from '../events.ts';
import { type SetErrorCode, type SetRefusalReason, SetRefused } from './refused.ts';
import type { ReplayGuard } from './replay-guard.ts';

/** Asymmetric algorithms only: never `none`, never an HMAC a public key could be mistaken for. */
export const SET_ALGORITHMS = Object.freeze(['ES256', 'EdDSA', 'RS256', 'PS256'] as const);

export interface SetVerifyOptions {
  /** The transmitter's issuer identifier (its SSF metadata `issuer`); `iss` must equal it. */
  issuer: string;
  /** This receiver's audience (the stream's `aud`); `aud` must be or contain it. */
  audience: string;
  /** The transmitter's keys: `createRemoteJWKSet(jwks_uri)` or `createLocalJWKSet(jwks)`. */
  keys: JWTVerifyGetKey;
  /** Where taken `jti`s are remembered: a SET is taken once. */
  replay: ReplayGuard;
  /** A SET issued longer ago is refused (and its `jti` need not be remembered longer). Default 86,400 (one day). */
  maxAgeSeconds?: number;
  /** Tolerated clock difference for `iat`, seconds. Default 30. */
  clockSkewSeconds?: number;
  /** Milliseconds now; tests pass their own clock. */
  now?: () => number;
}

/** A verified SET: what a receiver applies. */
export interface VerifiedSet {
  /** `iss`: the transmitter, as checked against `SetVerifyOptions.issuer`. */
  issuer: string;
  jti: string;
  iat: number;
  events: SecurityEvent[];
}

const TYP = 'secevent+jwt';
const KNOWN_TYPES = new Set<string>(Object.values(EVENT_TYPES));
const STREAM_EVENT_TYPES = new Set<string>([EVENT_TYPES.verification, EVENT_TYPES.streamUpdated]);
/** SSF's subject for stream events without `sub_id`: the stream itself, unnamed. */
const STREAM_SUBJECT: SubjectIdentifier = Object.freeze({ format: 'opaque', id: '' });

/**
 * Verifies a Security Event Token (RFC 8417, as SSF 1.0 profiles it) and takes its `jti`: `typ`
 * `secevent+jwt`, an asymmetric signature by the transmitter's keys (`SET_ALGORITHMS`), `iss`, `aud`,
 * `iat` (not in the future beyond the skew, not older than `maxAgeSeconds`), a `jti` not taken before,
 * and `events` of at least one known event, with SSF's top-level `sub_id` for every event but the
 * stream's own (verification, stream-updated). Throws `SetRefused` with the RFC 8935 §2.4 code; any
 * other error (the transmitter's JWKS unreachable) is the receiver's problem, not the SET's, and is
 * thrown as is so the SET is retried. Does not check that the events were requested for the stream.
 *
 * @example
 * const set = await verifySecurityEventToken(body, {
 *   issuer: 'https://broker.example', audience: 'https://orders.example/mcp',
 *   keys: createRemoteJWKSet(new URL('https://broker.example/jwks')), replay: new MemoryReplayGuard(),
 * });
 */
export async function verifySecurityEventToken(jwt: string, options: SetVerifyOptions): Promise<VerifiedSet> {
  const now = options.now?.() ?? Date.now();
  const skew = options.clockSkewSeconds ?? 30;
  const maxAge = options.maxAgeSeconds ?? 86_400;
  if (typeof jwt !== 'string' || jwt.length === 0) throw refused('invalid_request', 'malformed', 'not a SET');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, options.keys, {
      algorithms: [...SET_ALGORITHMS],
      typ: TYP,
      issuer: options.issuer,
      audience: options.audience,
      currentDate: new Date(now),
      clockTolerance: skew,
      requiredClaims: ['iss', 'aud', 'iat', 'jti'],
    }));
  } catch (error) {
    throw refusalOf(error);
  }
  const seconds = now / 1000;
  const { iat, jti } = payload;
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    throw refused('invalid_request', 'iat_invalid', 'iat is not a time');
  if (iat > seconds + skew)
    throw refused('invalid_request', 'iat_in_future', 'the SET is issued in the future');
  if (iat < seconds - maxAge - skew) throw refused('invalid_request', 'too_old', 'the SET is too old');
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw refused('invalid_request', 'jti_missing', 'the SET has no usable jti');
  }
  const events = eventsOf(payload);
  let first: boolean;
  try {
    first = await options.replay.claim(`${options.issuer}\u0000${jti}`, (iat + maxAge + 2 * skew) * 1000);
  } catch (error) {
    if (error instanceof RangeError) {
      throw refused('access_denied', 'replay_guard_full', 'the receiver cannot take more SETs now');
    }
    throw error;
  }
  if (!first) throw refused('invalid_request', 'jti_replayed', 'the SET was already received');
  return { issuer: options.issuer, jti, iat, events };
}

/**
 * Caller misuse, refused when a receiver is built: an issuer and audience that are non-empty
 * strings, a key function, a replay guard, positive times.
 */
export function checkedVerifyOptions(options: SetVerifyOptions): SetVerifyOptions {
  if (typeof options?.issuer !== 'string' || options.issuer === '')
    throw new TypeError('verify.issuer is required');
  if (typeof options.audience !== 'string' || options.audience === '') {
    throw new TypeError('verify.audience is required');
  }
  if (typeof options.keys !== 'function')
    throw new TypeError('verify.keys must be a jose key function (JWKS)');
  if (typeof options.replay?.claim !== 'function') throw new TypeError('verify.replay must be a ReplayGuard');
  for (const name of ['maxAgeSeconds', 'clockSkewSeconds'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0))
      throw new TypeError(`verify.${name} must be ≥ 0`);
  }
  return options;
}

function eventsOf(payload: JWTPayload): SecurityEvent[] {
  const events = payload.events;
  if (typeof events !== 'object' || events === null || Array.isArray(events)) {
    throw refused('invalid_request', 'events_invalid', 'the SET has no events');
  }
  const entries = Object.entries(events as Record<string, unknown>);
  if (entries.length === 0) throw refused('invalid_request', 'events_invalid', 'the SET has no events');
  const subject = payload.sub_id === undefined ? undefined : subjectOf(payload.sub_id, 0);
  return entries.map(([type, body]) => {
    if (!KNOWN_TYPES.has(type)) {
      throw refused('invalid_request', 'event_unsupported', 'an event type is not supported', type);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw refused('invalid_request', 'events_invalid', 'an event payload is not an object', type);
    }
    if (!subject && !STREAM_EVENT_TYPES.has(type)) {
      throw refused('invalid_request', 'subject_invalid', 'the SET has no sub_id', type);
    }
    return {
      type: type as EventType,
      subject: subject ?? STREAM_SUBJECT,
      payload: body as Record<string, unknown>,
    };
  });
}

/** RFC 9493 subject identifiers Baton reads; any other format or a missing member is `invalid_request`. */
function subjectOf(value: unknown, depth: number): SubjectIdentifier {
  const bad = () =>
    refused('invalid_request', 'subject_invalid', 'sub_id is not a supported subject identifier');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad();
  const id = value as Record<string, unknown>;
  const text = (name: string): string => {
    const member = id[name];
    if (typeof member !== 'string' || member.length === 0) throw bad();
    return member;
  };
  switch (id.format) {
    case 'iss_sub':
      return { format: 'iss_sub', iss: text('iss'), sub: text('sub') };
    case 'opaque':
      return { format: 'opaque', id: text('id') };
    case 'email':
      return { format: 'email', email: text('email') };
    case 'jwt_id':
      return { format: 'jwt_id', iss: text('iss'), jti: text('jti') };
    case 'complex': {
      if (depth > 0) throw bad();
      const complex: Extract<SubjectIdentifier, { format: 'complex' }> = { format: 'complex' };
      for (const member of ['user', 'session', 'application'] as const) {
        if (id[member] !== undefined) complex[member] = subjectOf(id[member], depth + 1);
      }
      if (!complex.user && !complex.session && !complex.application) throw bad();
      return complex;
    }
    default:
      throw bad();
  }
}

/** jose's verdicts as RFC 8935 §2.4 codes; anything else (JWKS unreachable) is rethrown. */
function refusalOf(error: unknown): unknown {
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return refused('invalid_key', 'alg_not_allowed', 'the SET is not signed with an accepted algorithm');
  }
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return refused('invalid_key', 'key_unknown', "the SET's key is not one of the transmitter's");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return refused('invalid_key', 'signature_invalid', "the SET's signature does not verify");
  }
  if (error instanceof errors.JWTExpired) {
    return refused('invalid_request', 'too_old', 'the SET has expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return refused('invalid_issuer', 'issuer_invalid', 'the SET is not from the expected issuer');
      case 'aud':
        return refused('invalid_audience', 'audience_invalid', 'the SET is not for this receiver');
      case 'typ':
        return refused('invalid_request', 'typ_invalid', 'not a Security Event Token (typ)');
      case 'iat':
        return refused('invalid_request', 'iat_invalid', 'iat is missing or not a time');
      case 'jti':
        return refused('invalid_request', 'jti_missing', 'the SET has no jti');
      default:
        return refused('invalid_request', 'malformed', 'the SET claims are invalid', error.claim);
    }
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported ||
    error instanceof errors.JWKInvalid
  ) {
    return refused('invalid_request', 'malformed', 'not a well-formed signed JWT', error.code);
  }
  return error;
}

function refused(
  err: SetErrorCode,
  reason: SetRefusalReason,
  description: string,
  detail?: string,
): SetRefused {
  // The detail may name what the transmitter sent (an event type): kept short, never the SET.
  return new SetRefused(
    err,
    reason,
    description,
    detail === undefined ? undefined : { detail: detail.slice(0, 120) },
  );
}
