import { createHash, randomUUID } from 'node:crypto';
import {
  CompactSign,
  type CryptoKey,
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type KeyObject,
  SignJWT,
} from 'jose';

/**
 * JWS algorithms for DPoP proofs (RFC 9449 §4.2: asymmetric only). What a key proves with is declared
 * beside it, never taken from the key, so a proof is never signed with an algorithm nobody chose.
 */
export type DpopAlgorithm = 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'PS256' | 'PS384' | 'PS512' | 'RS256';

const DPOP_ALGORITHMS: ReadonlySet<string> = new Set<DpopAlgorithm>([
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
]);

/** A key a client proves possession of (RFC 9449): tokens bound to it carry its thumbprint in `cnf.jkt`. */
export interface DpopKey {
  readonly alg: DpopAlgorithm;
  /** Public members only: this goes into every proof's header. */
  readonly publicJwk: JWK;
  readonly privateKey: CryptoKey | KeyObject;
  /** RFC 7638 thumbprint of `publicJwk`, what a bound token's `cnf.jkt` names. */
  readonly jkt: string;
}

/** Private JWK members (RFC 7517/7518): never in a proof's header. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/**
 * A DPoP key from a key pair the service keeps (its private key never leaves it), or a fresh
 * non-extractable one (`generateDpopKey`). The public JWK is checked to hold no private member.
 *
 * @example
 * const key = await dpopKey({ alg: 'ES256', privateKey, publicJwk });
 */
export async function dpopKey(options: {
  alg: DpopAlgorithm;
  privateKey: CryptoKey | KeyObject;
  publicJwk: JWK;
}): Promise<DpopKey> {
  if (!DPOP_ALGORITHMS.has(options.alg)) {
    throw new TypeError(`dpopKey: ${String(options.alg)} is not an asymmetric JWS algorithm for DPoP`);
  }
  if (PRIVATE_MEMBERS.some((member) => member in options.publicJwk)) {
    throw new TypeError('dpopKey: publicJwk holds private key material');
  }
  // Only the members RFC 7638 and the key type need: no kid, alg or use a verifier would not read.
  const { kty, crv, x, y, n, e } = options.publicJwk;
  const publicJwk = Object.fromEntries(
    Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined),
  ) as JWK;
  // A pair that does not match would sign proofs every server refuses: found here, not at the first call.
  const probe = await new CompactSign(new Uint8Array([0]))
    .setProtectedHeader({ alg: options.alg })
    .sign(options.privateKey);
  await compactVerify(probe, await importJWK(publicJwk, options.alg)).catch(() => {
    throw new TypeError('dpopKey: privateKey and publicJwk are not one key pair');
  });
  return Object.freeze({
    alg: options.alg,
    publicJwk: Object.freeze(publicJwk),
    privateKey: options.privateKey,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  });
}

/**
 * A fresh DPoP key pair whose private key cannot be exported: it lives and dies with this process.
 *
 * @example
 * const key = await generateDpopKey();
 * key.jkt; // what tokens bound to it carry in cnf.jkt
 */
export async function generateDpopKey(alg: DpopAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: false });
  return dpopKey({ alg, privateKey, publicJwk: await exportJWK(publicKey) });
}

/** What one proof covers. */
export interface DpopProofRequest {
  /** The request's HTTP method (`htm`). */
  method: string;
  /** The request's URL; its query and fragment are left out of `htu` (RFC 9449 §4.2). */
  url: string | URL;
  /** The access token sent with the request, hashed into `ath` (RFC 9449 §4.2); none at a token endpoint. */
  accessToken?: string;
  /** The server's nonce (RFC 9449 §8, §9), when it asked for one. */
  nonce?: string;
}

/**
 * A DPoP proof JWT (RFC 9449 §4) for one request: `typ: dpop+jwt`, the public key in `jwk`, and a
 * unique `jti`, `htm`, `htu`, `iat`, with `ath` when a token goes with it and `nonce` when the server
 * gave one. One proof per request: a server refuses a `jti` it has seen.
 *
 * @example
 * const proof = await dpopProof(key, { method: 'GET', url: 'https://api.example/orders', accessToken });
 * fetch('https://api.example/orders', { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
 */
export async function dpopProof(key: DpopKey, request: DpopProofRequest): Promise<string> {
  const url = new URL(request.url);
  const claims: Record<string, string> = {
    jti: randomUUID(),
    htm: request.method.toUpperCase(),
    htu: `${url.origin}${url.pathname}`,
  };
  if (request.accessToken !== undefined) claims.ath = accessTokenHash(request.accessToken);
  if (request.nonce !== undefined) claims.nonce = request.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

/** `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the token's ASCII form. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}
