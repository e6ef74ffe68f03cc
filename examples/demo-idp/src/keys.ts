import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'oidc-provider';

/** The only algorithm the demo IdP signs with: ID tokens and JWT access tokens alike. */
export const SIGNING_ALG = 'ES256';

/**
 * Generates a fresh ES256 signing key for one IdP run. A new key per start means tokens from an earlier
 * run can never verify against this one, which is what a test suite wants. The `kid` is the key's RFC 7638
 * thumbprint, so it is unique without any bookkeeping.
 */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' };
}
