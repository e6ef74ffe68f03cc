import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { CheckpointBody, CheckpointLine } from './line-format.ts';

/** A checkpoint verification key as published next to the log: a public EC P-256 JWK with its `kid`. */
export interface CheckpointPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/**
 * Signs checkpoints with ES256. Without a caller-supplied key each opened store generates one and
 * keeps the private half in memory only: once the process is gone nobody can sign another checkpoint
 * under that key, so history a checkpoint covers cannot be rewritten and re-signed. Pin the published
 * public keys elsewhere (`trustedKeys` when verifying) so a key file swapped with the log is caught too.
 */
export class CheckpointSigner {
  readonly kid: string;
  readonly publicJwk: CheckpointPublicJwk;
  readonly #privateKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    this.#privateKey = privateKey;
    this.publicJwk = publicJwkOf(createPublicKey(privateKey));
    this.kid = this.publicJwk.kid;
  }

  /** From an EC P-256 private key (e.g. `EnvelopeKeyRing#signingKey.privateKey`), or a fresh one. */
  static from(privateKey: KeyObject | undefined, owner: string): CheckpointSigner {
    if (privateKey === undefined) {
      return new CheckpointSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    }
    if (!isP256(privateKey) || privateKey.type !== 'private') {
      throw new TypeError(`${owner}: signingKey must be an EC P-256 private KeyObject (ES256)`);
    }
    return new CheckpointSigner(privateKey);
  }

  sign(body: Omit<CheckpointBody, 'kid'>): CheckpointLine {
    const checkpoint: CheckpointBody = { ...body, kid: this.kid };
    const signature = sign('sha256', Buffer.from(canonicalJson(checkpoint)), {
      key: this.#privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return { checkpoint, signature: signature.toString('base64url') };
  }
}

/** Whether `line.signature` is a valid ES256 signature by `key` over the canonical checkpoint body. */
export function checkpointSignatureValid(line: CheckpointLine, key: KeyObject): boolean {
  const signature = Buffer.from(line.signature, 'base64url');
  if (signature.length !== 64 || signature.toString('base64url') !== line.signature) return false;
  return verify(
    'sha256',
    Buffer.from(canonicalJson(line.checkpoint)),
    { key, dsaEncoding: 'ieee-p1363' },
    signature,
  );
}

/** Verification keys by `kid`, from JWKs; anything that is not an EC P-256 public key is skipped. */
export function keysByKid(jwks: readonly unknown[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const jwk of jwks) {
    if (jwk === null || typeof jwk !== 'object') continue;
    const { kty, crv, x, y } = jwk as Record<string, unknown>;
    if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string') continue;
    try {
      const key = createPublicKey({ key: { kty, crv, x, y } as JsonWebKey, format: 'jwk' });
      // The kid is recomputed, never taken from the JWK: a key cannot claim another key's kid.
      keys.set(publicJwkOf(key).kid, key);
    } catch {}
  }
  return keys;
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

function publicJwkOf(publicKey: KeyObject): CheckpointPublicJwk {
  const { x, y } = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
  // RFC 7638 thumbprint: the required members in lexicographic order, no whitespace.
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: 'P-256', kty: 'EC', x, y }))
    .digest('base64url');
  return { kty: 'EC', crv: 'P-256', x, y, kid, alg: 'ES256', use: 'sig' };
}
