import { createPublicKey, KeyObject } from 'node:crypto';
import { createRemoteJWKSet } from 'jose';
import { type EnvelopeAlgorithm, isEnvelopeAlgorithm, keyMatchesAlgorithm } from './compact-jws.ts';
import type { EnvelopeKeys, JsonWebKeySet } from './key-ring.ts';

/** A verification key for one `kid`, with the one algorithm it may be used with. */
export interface ResolvedKey {
  readonly alg: EnvelopeAlgorithm;
  readonly key: KeyObject;
}

/**
 * Finds the verification key for a `kid` under the header's (already allow-listed) `alg`; `undefined`
 * when the issuer does not, or no longer, publish such a key.
 */
export type EnvelopeKeyResolver = (
  kid: string,
  alg: EnvelopeAlgorithm,
) => ResolvedKey | undefined | Promise<ResolvedKey | undefined>;

/** Keys of an issuer in the same process (an `EnvelopeKeyRing` or `SharedEnvelopeKeys`). */
export function keyRingResolver(ring: EnvelopeKeys): EnvelopeKeyResolver {
  return (kid) => ring.publicKey(kid);
}

/**
 * Keys from a JWKS document already in hand. Keys without an allowed `alg`, or whose type does not
 * fit their `alg`, are skipped rather than guessed at.
 */
export function localJwksResolver(
  jwks: JsonWebKeySet | { keys: Array<Record<string, unknown>> },
): EnvelopeKeyResolver {
  const byKid = new Map<string, ResolvedKey>();
  for (const jwk of jwks.keys as Array<Record<string, unknown>>) {
    if (typeof jwk.kid !== 'string' || !isEnvelopeAlgorithm(jwk.alg) || 'd' in jwk) continue;
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    if (keyMatchesAlgorithm(key, jwk.alg)) byKid.set(jwk.kid, { alg: jwk.alg, key });
  }
  return (kid) => byKid.get(kid);
}

/**
 * Keys from an issuer's published JWKS URL, fetched, cached and refreshed on an unknown `kid` by
 * jose's `createRemoteJWKSet` (with its cooldown, so a flood of unknown kids cannot hammer the issuer).
 */
export function remoteJwksResolver(
  jwksUri: URL,
  options: { cacheMaxAgeMs?: number; cooldownMs?: number; timeoutMs?: number } = {},
): EnvelopeKeyResolver {
  const remote = createRemoteJWKSet(jwksUri, {
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    cooldownDuration: options.cooldownMs ?? 30_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  const converted = new WeakMap<object, KeyObject>();
  return async (kid, alg) => {
    let cryptoKey: CryptoKey;
    try {
      cryptoKey = await remote({ alg, kid });
    } catch {
      // No matching key (after jose's refresh-on-unknown-kid, within its cooldown) or the JWKS is unreachable.
      return undefined;
    }
    let key = converted.get(cryptoKey);
    if (!key) {
      key = KeyObject.from(cryptoKey);
      converted.set(cryptoKey, key);
    }
    return keyMatchesAlgorithm(key, alg) ? { alg, key } : undefined;
  };
}
