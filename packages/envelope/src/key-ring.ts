import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  ENVELOPE_ALGORITHMS,
  type EnvelopeAlgorithm,
  isEnvelopeAlgorithm,
  jwkThumbprint,
  keyMatchesAlgorithm,
} from './compact-jws.ts';

/** A public key as published in a JWKS (RFC 7517), always with `kid`, `alg` and `use`. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
  kid: string;
  alg: EnvelopeAlgorithm;
  use: 'sig';
}

export interface JsonWebKeySet {
  keys: PublicJwk[];
}

/**
 * What `EnvelopeIssuer` signs with and publishes: an `EnvelopeKeyRing` (one process) or
 * `SharedEnvelopeKeys` (a fleet sharing a key file or an operator's JWKS).
 */
export interface EnvelopeKeys {
  /**
   * How long, at least, a key keeps verifying after the last envelope signed with it; it must cover
   * the envelope lifetime, which `EnvelopeIssuer` checks.
   */
  readonly retentionSeconds: number;
  /** The key new envelopes are signed with. */
  readonly signingKey: {
    readonly kid: string;
    readonly alg: EnvelopeAlgorithm;
    readonly privateKey: KeyObject;
  };
  /** The public keys a verifier should accept now. Never contains private members. */
  jwks(): JsonWebKeySet;
  /** The verification key for `kid` if these keys still accept it, else `undefined`. */
  publicKey(kid: string): { readonly alg: EnvelopeAlgorithm; readonly key: KeyObject } | undefined;
  /**
   * False when the keys can no longer be trusted to match what the other instances publish (shared keys
   * whose source keeps failing to re-read); `signingKey` throws then. Absent: always healthy.
   */
  readonly healthy?: boolean;
}

/** One key of a ring, with its public forms computed once. */
export interface RingEntry {
  kid: string;
  alg: EnvelopeAlgorithm;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: PublicJwk;
  /** Unix seconds after which the key no longer verifies anything it signed; unset while active or staged. */
  retireAt?: number;
}

export interface EnvelopeKeyRingOptions {
  /** Signing algorithm for new keys. Default `ES256`. */
  algorithm?: EnvelopeAlgorithm;
  /**
   * How long a rotated-out key stays published and verifying, in seconds. It must outlast the
   * longest envelope lifetime plus clock skew, or envelopes signed just before a rotation would be
   * refused; `EnvelopeIssuer` checks this at construction.
   */
  retentionSeconds: number;
}

/**
 * The issuer's signing keys, with rotation that needs no downtime: `stageNextKey()` publishes the
 * next key in the JWKS before it signs anything (so remote verifiers' caches pick it up), `rotate()`
 * makes it the signing key, and the previous key keeps verifying for `retentionSeconds`.
 *
 * @example
 * const ring = EnvelopeKeyRing.generate({ algorithm: 'ES256', retentionSeconds: 900 });
 * ring.stageNextKey();      // publish first
 * ring.rotate();            // then sign with it
 * const jwks = ring.jwks(); // serve at /.well-known/jwks.json
 */
export class EnvelopeKeyRing implements EnvelopeKeys {
  readonly retentionSeconds: number;
  readonly algorithm: EnvelopeAlgorithm;
  #active: RingEntry;
  #staged: RingEntry | undefined;
  #retiring: RingEntry[] = [];
  #now: () => number;

  private constructor(options: EnvelopeKeyRingOptions, active: RingEntry, now: () => number) {
    if (!Number.isInteger(options.retentionSeconds) || options.retentionSeconds <= 0) {
      throw new TypeError('EnvelopeKeyRing: retentionSeconds must be a positive integer');
    }
    this.retentionSeconds = options.retentionSeconds;
    this.algorithm = active.alg;
    this.#active = active;
    this.#now = now;
  }

  /** A ring with one freshly generated signing key. */
  static generate(options: EnvelopeKeyRingOptions, now: () => number = unixNow): EnvelopeKeyRing {
    const algorithm = options.algorithm ?? 'ES256';
    if (!isEnvelopeAlgorithm(algorithm)) {
      throw new TypeError(`EnvelopeKeyRing: algorithm must be one of ${ENVELOPE_ALGORITHMS.join(', ')}`);
    }
    return new EnvelopeKeyRing(options, generateEntry(algorithm), now);
  }

  /**
   * A ring around an existing private key (a JWK with `d`), for keys kept by the operator across
   * restarts. The `alg` member is required so the key is never used with an algorithm it was not made for.
   */
  static fromPrivateJwk(
    jwk: Record<string, unknown>,
    options: Omit<EnvelopeKeyRingOptions, 'algorithm'>,
    now: () => number = unixNow,
  ): EnvelopeKeyRing {
    if (!isEnvelopeAlgorithm(jwk.alg)) {
      throw new TypeError(
        `EnvelopeKeyRing: the JWK must name its alg, one of ${ENVELOPE_ALGORITHMS.join(', ')}`,
      );
    }
    const privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    return new EnvelopeKeyRing(options, entryFor(jwk.alg, privateKey), now);
  }

  /** The key new envelopes are signed with. */
  get signingKey(): {
    readonly kid: string;
    readonly alg: EnvelopeAlgorithm;
    readonly privateKey: KeyObject;
  } {
    return this.#active;
  }

  /** Generates the next key and publishes it without signing with it yet. Returns its `kid`. */
  stageNextKey(algorithm: EnvelopeAlgorithm = this.algorithm): string {
    this.#staged = generateEntry(algorithm);
    return this.#staged.kid;
  }

  /**
   * Makes the staged key (or a new one, if none was staged) the signing key; the previous signing key
   * keeps verifying for `retentionSeconds`. Returns the new signing `kid`.
   */
  rotate(): string {
    const next = this.#staged ?? generateEntry(this.algorithm);
    this.#staged = undefined;
    this.#retiring.push({ ...this.#active, retireAt: this.#now() + this.retentionSeconds });
    this.#active = next;
    this.#prune();
    return next.kid;
  }

  /** The public keys a verifier should accept now: active, staged and not-yet-retired. */
  jwks(): JsonWebKeySet {
    this.#prune();
    const entries = [this.#active, ...(this.#staged ? [this.#staged] : []), ...this.#retiring];
    return { keys: entries.map((entry) => entry.publicJwk) };
  }

  /** The verification key for `kid` if this ring still accepts it, else `undefined`. */
  publicKey(kid: string): { readonly alg: EnvelopeAlgorithm; readonly key: KeyObject } | undefined {
    if (kid === this.#active.kid) return { alg: this.#active.alg, key: this.#active.publicKey };
    if (this.#staged && kid === this.#staged.kid)
      return { alg: this.#staged.alg, key: this.#staged.publicKey };
    const now = this.#now();
    const retiring = this.#retiring.find((entry) => entry.kid === kid && (entry.retireAt ?? 0) > now);
    return retiring ? { alg: retiring.alg, key: retiring.publicKey } : undefined;
  }

  #prune(): void {
    const now = this.#now();
    this.#retiring = this.#retiring.filter((entry) => (entry.retireAt ?? 0) > now);
  }
}

export function generateEntry(alg: EnvelopeAlgorithm): RingEntry {
  const { privateKey } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'prime256v1' : 'secp384r1' });
  return entryFor(alg, privateKey);
}

/** The entry for a private key under `alg`; `kid` is its RFC 7638 thumbprint. Throws TypeError on a misfit. */
export function entryFor(alg: EnvelopeAlgorithm, privateKey: KeyObject): RingEntry {
  return { ...publicEntryFor(alg, createPublicKey(privateKey)), privateKey };
}

/** A public key's published form under `alg` (no private member can reach it). Throws TypeError on a misfit. */
export function publicEntryFor(
  alg: EnvelopeAlgorithm,
  publicKey: KeyObject,
): { kid: string; alg: EnvelopeAlgorithm; publicKey: KeyObject; publicJwk: PublicJwk } {
  if (publicKey.type !== 'public' || !keyMatchesAlgorithm(publicKey, alg)) {
    throw new TypeError(`EnvelopeKeyRing: the key does not fit algorithm ${alg}`);
  }
  const exported = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  const kid = jwkThumbprint(exported);
  const publicJwk: PublicJwk = {
    kty: exported.kty!,
    crv: exported.crv!,
    x: exported.x!,
    ...(exported.y ? { y: exported.y } : {}),
    kid,
    alg,
    use: 'sig',
  };
  return { kid, alg, publicKey, publicJwk };
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
