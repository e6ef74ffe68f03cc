import { KeyObject, randomUUID } from 'node:crypto';
import { type JWK, SignJWT } from 'jose';

/** The algorithms platforms accept for JWT bearer assertions (Salesforce: RS256; most others: ES256 too). */
export type AssertionAlgorithm = 'ES256' | 'RS256';

/** A private key for signing assertions: a JWK with its private part, or a Node `KeyObject`. */
export type AssertionKey = JWK | KeyObject;

export interface AssertionSigner {
  readonly alg: AssertionAlgorithm;
  /**
   * Signs a short-lived assertion (`iat` now, a fresh `jti`) with `claims`. The result is a credential:
   * it goes into a request body and nowhere else.
   */
  sign(
    claims: { iss: string; sub: string; aud: string; lifetimeSeconds: number },
    nowSeconds: number,
  ): Promise<string>;
}

/**
 * Checks the key up front (private, EC P-256 or RSA, agreeing with `alg` if it names one) so that a
 * misconfiguration fails when the connector is built, not on a user's first request.
 */
export function assertionSigner(key: AssertionKey, options: { keyId?: string } = {}): AssertionSigner {
  const { alg, kid } = isKeyObject(key) ? fromKeyObject(key) : fromJwk(key);
  const keyId = options.keyId ?? kid;
  return {
    alg,
    sign(claims, nowSeconds) {
      return new SignJWT({})
        .setProtectedHeader({ alg, typ: 'JWT', ...(keyId ? { kid: keyId } : {}) })
        .setIssuer(claims.iss)
        .setSubject(claims.sub)
        .setAudience(claims.aud)
        .setIssuedAt(nowSeconds)
        .setExpirationTime(nowSeconds + claims.lifetimeSeconds)
        .setJti(randomUUID())
        .sign(key);
    },
  };
}

function isKeyObject(key: AssertionKey): key is KeyObject {
  return key instanceof KeyObject;
}

function fromKeyObject(key: KeyObject): { alg: AssertionAlgorithm; kid: undefined } {
  if (key.type !== 'private') throw new TypeError('the assertion key must be a private key');
  if (key.asymmetricKeyType === 'rsa') return { alg: 'RS256', kid: undefined };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { alg: 'ES256', kid: undefined };
  }
  throw new TypeError('the assertion key must be an RSA key (RS256) or an EC P-256 key (ES256)');
}

function fromJwk(jwk: JWK): { alg: AssertionAlgorithm; kid: string | undefined } {
  if (typeof jwk.d !== 'string') throw new TypeError('the assertion key must be a private JWK (with "d")');
  const alg = jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!alg) throw new TypeError('the assertion key must be an RSA JWK (RS256) or an EC P-256 JWK (ES256)');
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw new TypeError(`the assertion JWK is for ${jwk.alg}; only ${alg} is supported for this key type`);
  }
  return { alg, kid: jwk.kid };
}
