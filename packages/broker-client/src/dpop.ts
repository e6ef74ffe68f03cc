import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/**
 * A DPoP key a service holds (RFC 9449): what its sender-constrained tokens are bound to (`cnf.jkt`,
 * its {@link DpopKey.thumbprint}), and the proofs that show it holds the key, one per request.
 */
export interface DpopKey {
  /** RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it. */
  readonly thumbprint: string;
  /**
   * A fresh proof (`typ: dpop+jwt`, the public `jwk` in its header, `htm`, `htu` without query and
   * fragment, `iat`, a unique `jti`), with `ath` when it accompanies `accessToken` (RFC 9449 §4.2),
   * and the last nonce the URL's server handed out, unless `nonce` is given.
   */
  proof(request: {
    method: string;
    url: string | URL;
    accessToken?: string;
    nonce?: string;
  }): Promise<string>;
  /** Remembers a server's `DPoP-Nonce` (RFC 9449 §8) for the next proofs to its origin. */
  acceptNonce(url: string | URL, nonce: string): void;
}

/**
 * A DPoP key from a private JWK the service keeps (or a new ES256 key).
 *
 * @example
 * const dpop = await dpopKey(privateJwkFromSecretStore);
 * const { access_token, token_type } = await exchangeToken(broker, credentials, request, { dpop }); // token_type 'DPoP'
 */
export async function dpopKey(privateJwk?: JWK): Promise<DpopKey> {
  let jwk = privateJwk;
  if (!jwk) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    jwk = await exportJWK(privateKey);
  }
  if (!jwk.d) throw new TypeError('dpopKey: a private JWK is required');
  const alg = jwk.alg ?? (jwk.kty === 'OKP' ? 'Ed25519' : 'ES256');
  const key = await importJWK(jwk, alg);
  const publicJwk = publicMembers(jwk);
  const thumbprint = await calculateJwkThumbprint(publicJwk);
  const nonces = new Map<string, string>();
  return {
    thumbprint,
    async proof({ method, url, accessToken, nonce }) {
      const target = new URL(url);
      const remembered = nonce ?? nonces.get(target.origin);
      target.search = '';
      target.hash = '';
      return new SignJWT({
        htm: method.toUpperCase(),
        htu: target.href,
        ...(remembered ? { nonce: remembered } : {}),
        ...(accessToken
          ? {
              ath: Buffer.from(await crypto.subtle.digest('SHA-256', Buffer.from(accessToken))).toString(
                'base64url',
              ),
            }
          : {}),
      })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: publicJwk })
        .setJti(randomUUID())
        .setIssuedAt()
        .sign(key);
    },
    acceptNonce(url, nonce) {
      nonces.set(new URL(url).origin, nonce);
    },
  };
}

/**
 * The public members of a key (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2), by allow-list: the proof header
 * carries this `jwk` in every request, so anything not named here (an RSA key's `p`, `q`, `dp`, `dq`,
 * `qi`, `oth`, or a member some library adds) must never reach it.
 */
function publicMembers(jwk: JWK): JWK {
  switch (jwk.kty) {
    case 'EC':
      return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK;
    case 'RSA':
      return { kty: 'RSA', n: jwk.n, e: jwk.e } as JWK;
    case 'OKP':
      return { kty: 'OKP', crv: jwk.crv, x: jwk.x } as JWK;
    default:
      throw new TypeError(`dpopKey: key type ${String(jwk.kty)} cannot sign DPoP proofs`);
  }
}
