import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { EnvelopeError } from './errors.ts';

/**
 * The one crypto seam of this package: compact JWS (RFC 7515 §7.1) over `node:crypto`'s synchronous
 * sign/verify. jose is the reference for general JOSE work, but in Node it goes through Web Crypto's
 * asynchronous job queue, which costs about two thirds of the throughput on this hot path (measured in
 * `npm run bench`). Envelopes need only a fixed, small subset: asymmetric algorithms from an allow-list,
 * one typed header, one key per `kid`.
 */

/** Asymmetric algorithms only (RFC 8725 §3.1/§3.2): no `none`, no HMAC, so a public key is never a secret. */
export const ENVELOPE_ALGORITHMS = ['ES256', 'ES384', 'EdDSA'] as const;
export type EnvelopeAlgorithm = (typeof ENVELOPE_ALGORITHMS)[number];

interface AlgorithmParameters {
  digest: string | null;
  keyType: 'ec' | 'ed25519';
  namedCurve?: string;
  signatureLength: number;
}

const PARAMETERS: Record<EnvelopeAlgorithm, AlgorithmParameters> = {
  ES256: { digest: 'sha256', keyType: 'ec', namedCurve: 'prime256v1', signatureLength: 64 },
  ES384: { digest: 'sha384', keyType: 'ec', namedCurve: 'secp384r1', signatureLength: 96 },
  EdDSA: { digest: null, keyType: 'ed25519', signatureLength: 64 },
};

export function isEnvelopeAlgorithm(value: unknown): value is EnvelopeAlgorithm {
  return typeof value === 'string' && Object.hasOwn(PARAMETERS, value);
}

/** Whether `key` is the right type (and curve) for `alg`; stops cross-algorithm key confusion. */
export function keyMatchesAlgorithm(key: KeyObject, alg: EnvelopeAlgorithm): boolean {
  const parameters = PARAMETERS[alg];
  if (key.asymmetricKeyType !== parameters.keyType) return false;
  return (
    parameters.namedCurve === undefined || key.asymmetricKeyDetails?.namedCurve === parameters.namedCurve
  );
}

export interface ProtectedHeader {
  alg: EnvelopeAlgorithm;
  typ: string;
  kid: string;
}

const encoder = new TextEncoder();

export function signCompact(header: ProtectedHeader, payload: object, privateKey: KeyObject): string {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const parameters = PARAMETERS[header.alg];
  const signature = sign(parameters.digest, encoder.encode(signingInput), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${signingInput}.${signature.toString('base64url')}`;
}

export interface DecodedCompact {
  header: Record<string, unknown>;
  /** Verifies the signature with `publicKey` under `alg`; returns the parsed payload or throws. */
  verifyWith(publicKey: KeyObject, alg: EnvelopeAlgorithm): Record<string, unknown>;
}

/**
 * Splits and parses the header only. Nothing in the payload is trusted or even parsed until
 * `verifyWith` has checked the signature.
 */
export function decodeCompact(token: string): DecodedCompact {
  if (typeof token !== 'string' || token.length > 16_384) {
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', 'envelope is not a compact JWS of acceptable size');
  }
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  if (firstDot <= 0 || secondDot <= firstDot + 1 || token.indexOf('.', secondDot + 1) !== -1) {
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', 'envelope is not a three-part compact JWS');
  }
  const header = parseJsonObject(token.slice(0, firstDot), 'header');
  return {
    header,
    verifyWith(publicKey, alg) {
      const parameters = PARAMETERS[alg];
      const signature = decodeBase64url(token.slice(secondDot + 1), 'signature');
      const valid =
        signature.length === parameters.signatureLength &&
        verify(
          parameters.digest,
          encoder.encode(token.slice(0, secondDot)),
          { key: publicKey, dsaEncoding: 'ieee-p1363' },
          signature,
        );
      if (!valid)
        throw new EnvelopeError('ERR_ENVELOPE_SIGNATURE_INVALID', 'envelope signature does not verify');
      return parseJsonObject(token.slice(firstDot + 1, secondDot), 'payload');
    },
  };
}

/** RFC 7638 JWK thumbprint, used as a stable `kid`. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeBase64url(segment: string, part: string): Buffer {
  if (!BASE64URL.test(segment)) {
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', `envelope ${part} is not base64url`);
  }
  return Buffer.from(segment, 'base64url');
}

function parseJsonObject(segment: string, part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decodeBase64url(segment, part).toString('utf8'));
  } catch (cause) {
    if (cause instanceof EnvelopeError) throw cause;
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', `envelope ${part} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new EnvelopeError('ERR_ENVELOPE_MALFORMED', `envelope ${part} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
