import { type CryptoKey, type KeyObject, SignJWT } from 'jose';
import type { SecurityEvent } from '../events.ts';

/** The media type of a Security Event Token (RFC 8417 §2.3) and the JWS `typ` every Baton SET carries. */
export const SECEVENT_TYP = 'secevent+jwt';

/** The key a transmitter signs with: a private key, the `kid` its JWKS publishes, and its algorithm. */
export interface SetSigningKey {
  key: CryptoKey | KeyObject | Uint8Array;
  kid: string;
  /** A JWS algorithm the key fits (`ES256` for the broker's key). Never `none`. */
  alg: string;
}

export interface MintSecurityEventTokenOptions {
  /** `iss`: the transmitter's issuer, as its `/.well-known/ssf-configuration` names it. */
  issuer: string;
  /** `aud`: the stream's audience (the receiver's client id unless the stream asked for another). */
  audience: string | string[];
  /**
   * The events of this SET. SSF 1.0 §4 requires exactly one event per SET; more than one is a caller
   * mistake (`TypeError`). An array so that the shape stays RFC 8417's.
   */
  events: readonly SecurityEvent[];
  key: SetSigningKey;
  /** RFC 8417 §2.2 `txn`: ties SETs that one underlying change produced. */
  txn?: string;
  /** `iat`, Unix seconds. Default now. */
  issuedAt?: number;
  /** `jti`. Default a random UUID. */
  jti?: string;
}

/**
 * Signs one Security Event Token (RFC 8417) as SSF 1.0 shapes it: header `typ: secevent+jwt` and
 * `kid`; claims `iss`, `aud`, `iat`, a random `jti`, the subject as the top-level `sub_id` (SSF 1.0
 * §4.1) and `events: { <type>: <payload> }`. No `exp` and no `sub` (RFC 8417 §2.2: a SET is not an
 * access token, and must not be mistaken for one).
 *
 * @example
 * const set = await mintSecurityEventToken({
 *   issuer: 'https://broker.example', audience: 'orders-mcp',
 *   events: eventsOfRevocations([{ kind: 'subject', value: 'alice' }], { subjectIssuer, at }).slice(0, 1),
 *   key: { key: privateKey, kid: 'k1', alg: 'ES256' },
 * });
 */
export async function mintSecurityEventToken(options: MintSecurityEventTokenOptions): Promise<string> {
  const { issuer, audience, events, key } = options;
  if (typeof issuer !== 'string' || issuer === '') throw new TypeError('issuer is required');
  const audiences = Array.isArray(audience) ? audience : [audience];
  if (audiences.length === 0 || audiences.some((value) => typeof value !== 'string' || value === '')) {
    throw new TypeError('audience must be a non-empty string or array of strings');
  }
  if (!Array.isArray(events) || events.length !== 1) {
    throw new TypeError('a Security Event Token carries exactly one event (SSF 1.0 §4)');
  }
  if (
    !key ||
    typeof key.kid !== 'string' ||
    typeof key.alg !== 'string' ||
    key.alg.toLowerCase() === 'none'
  ) {
    throw new TypeError('key needs a private key, a kid and a signing alg');
  }
  const event = events[0]!;
  return new SignJWT({
    jti: options.jti ?? crypto.randomUUID(),
    sub_id: event.subject,
    events: { [event.type]: event.payload },
    ...(options.txn ? { txn: options.txn } : {}),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: SECEVENT_TYP })
    .setIssuer(issuer)
    .setAudience(audiences.length === 1 ? audiences[0]! : audiences)
    .setIssuedAt(options.issuedAt ?? Math.floor(Date.now() / 1000))
    .sign(key.key);
}
