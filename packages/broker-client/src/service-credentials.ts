import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

/** A service's `private_key_jwt` credentials (RFC 7523 §2.2): a private key and its public JWKS. */
export interface ServiceCredentials {
  readonly clientId: string;
  /** The public key set to register (never the private key). */
  readonly jwks: { keys: JWK[] };
  /** A fresh, single-use client assertion for `audience` (the broker's issuer). */
  assertion(audience: string): Promise<string>;
}

/**
 * Creates credentials for a service from a private JWK it keeps (or a new key, for a demo).
 *
 * @example
 * const credentials = await serviceCredentials('orders-mcp', privateJwkFromSecretStore);
 * const assertion = await credentials.assertion(brokerIssuer);
 */
export async function serviceCredentials(clientId: string, privateJwk?: JWK): Promise<ServiceCredentials> {
  let jwk = privateJwk;
  if (!jwk) {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    jwk = await exportJWK(privateKey);
  }
  if (!jwk.d) throw new TypeError('serviceCredentials: a private JWK is required');
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
  const alg = jwk.alg ?? 'ES256';
  const key = await importJWK(jwk, alg);
  const { d: _private, ...publicJwk } = jwk;
  return {
    clientId,
    jwks: { keys: [{ ...publicJwk, kid, alg, use: 'sig' }] },
    async assertion(audience) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg, kid })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(audience)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
    },
  };
}
