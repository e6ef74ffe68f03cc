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
 * A service that authenticates to the broker with its TLS client certificate (RFC 8705 §2:
 * `tls_client_auth` or `self_signed_tls_client_auth`): the request names the client, the certificate
 * the connection presents (`TokenRequestOptions.fetch`/`dispatcher`) proves it.
 */
export interface TlsClientCredentials {
  readonly clientId: string;
  readonly method: 'tls_client_auth' | 'self_signed_tls_client_auth';
}

/**
 * Credentials of a service registered with `tls_client_auth` (default) or `self_signed_tls_client_auth`.
 *
 * @example
 * const credentials = tlsClientCredentials('orders-mcp');
 * await exchangeToken(broker, credentials, request, { dispatcher: workloadAgent });
 */
export function tlsClientCredentials(
  clientId: string,
  method: TlsClientCredentials['method'] = 'tls_client_auth',
): TlsClientCredentials {
  if (!clientId) throw new TypeError('tlsClientCredentials: a client id is required');
  return { clientId, method };
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
