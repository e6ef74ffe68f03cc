import { decodeJwt } from 'jose';
import { invalidToken } from '../errors.ts';
import type { AccessTokenVerifier } from './claims.ts';

/**
 * One verifier per trusted issuer, chosen by the token's (unverified) `iss`; the chosen verifier then
 * checks everything, `iss` included. For resources that accept tokens from the identity provider
 * (agents calling directly) and from the token broker (services calling on a person's behalf).
 *
 * @example
 * const verifier = byIssuer({
 *   [idp]: jwtAccessTokenVerifier({ issuer: idp, audience: resource }),
 *   [broker]: jwtAccessTokenVerifier({ issuer: broker, audience: resource }),
 * });
 */
export function byIssuer(verifiers: Readonly<Record<string, AccessTokenVerifier>>): AccessTokenVerifier {
  const table = new Map(Object.entries(verifiers));
  if (table.size === 0) throw new TypeError('byIssuer: at least one issuer is required');
  return {
    async verify(token) {
      let issuer: unknown;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        throw invalidToken('token_malformed', 'the access token is malformed');
      }
      const verifier = typeof issuer === 'string' ? table.get(issuer) : undefined;
      if (!verifier)
        throw invalidToken('issuer_invalid', 'the access token was issued by an untrusted issuer');
      return verifier.verify(token);
    },
  };
}
