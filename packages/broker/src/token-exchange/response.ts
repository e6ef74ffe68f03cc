import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import type { Issued } from '../grants/audited-grant.ts';

/** What a token exchange issued, for its response. */
export interface ExchangeResponse {
  token: string;
  /** RFC 8693 §3 token type identifier of what was issued (access token, Txn-Token, JWT grant). */
  issuedTokenType: string;
  /** `Bearer` or `DPoP` for an access token; `N_A` for anything else (RFC 8693 §2.2.1). */
  tokenType: string;
  expiresIn: number;
  /** The scopes granted; `scope` is sent when there are any. */
  scopes: readonly string[];
}

/**
 * `expires_in` of a token that expires at `exp` (epoch seconds): what remains of it now. A token is
 * dated at the request's `now`, so after slow checks or a store round trip it has less left than its
 * lifetime, and the response never promises more than the token has.
 */
export function secondsUntil(exp: number): number {
  return Math.max(0, exp - Math.floor(Date.now() / 1000));
}

/**
 * The RFC 8693 §2.2.1 token exchange response, one shape for every token type the broker exchanges for.
 *
 * @example
 * return exchangeResponse({ token, issuedTokenType: ACCESS_TOKEN_TYPE, tokenType: 'Bearer', expiresIn: 300, scopes });
 */
export function exchangeResponse(response: ExchangeResponse): Issued {
  const { scopes } = response;
  return {
    scopes,
    body: {
      access_token: response.token,
      issued_token_type: response.issuedTokenType,
      token_type: response.tokenType,
      expires_in: response.expiresIn,
      ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    },
  };
}

/**
 * The response for a Txn-Token, new or a replacement: never an access token (`N_A`, RFC 8693 §2.2.1),
 * living as long as its envelope says.
 */
export function txnTokenResponse(
  token: string,
  envelope: { readonly issued_at: number; readonly expires_at: number },
  scopes: readonly string[],
): Issued {
  return exchangeResponse({
    token,
    issuedTokenType: TXN_TOKEN_TYPE,
    tokenType: 'N_A',
    expiresIn: envelope.expires_at - envelope.issued_at,
    scopes,
  });
}
