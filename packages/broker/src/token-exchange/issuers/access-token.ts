import { ACCESS_TOKEN_TYPE } from '@baton/broker-client';
import type { Issued } from '../../grants/audited-grant.ts';
import { brokerResourceServer } from '../../grants/broker-token.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import { bindToken } from '../../sender-constraint/check.ts';
import type { Exchanged } from '../exchanged.ts';
import { exchangeResponse, secondsUntil } from '../response.ts';

/** What the access-token issuer reads: an exchange's state, or the jwt-bearer grant's (RFC 7523). */
export type AccessTokenState = Pick<
  Exchanged,
  | 'provider'
  | 'client'
  | 'audience'
  | 'mode'
  | 'act'
  | 'tenant'
  | 'subject'
  | 'sub'
  | 'granted'
  | 'lifetime'
  | 'now'
  | 'parent'
  | 'root'
  | 'binding'
>;

/**
 * Issues the broker's own RFC 9068 access token (`on_behalf_of` with the chain in `act`, or
 * `restricted_user` without), and records it in the registry so it can be introspected and revoked.
 * Its claims beyond oidc-provider's own ride on the token model's `extra`, which the configuration's
 * `extraTokenClaims` hands back when the token is signed.
 */
export function accessTokenIssuer(registry: TokenRegistry) {
  return async function issueAccessToken(state: AccessTokenState): Promise<Issued> {
    const { provider, client, audience, mode, act, tenant, subject, sub, granted, lifetime, now } = state;
    const sid = subject.claims.claims.sid;
    const token = new provider.AccessToken({
      accountId: sub,
      client,
      scope: granted.join(' ') || undefined,
      gty: 'token_exchange',
      // Dated at the request's `now`, the instant the lifetime was computed from: a token minted a
      // second later would otherwise end a second after its subject token (`exchangeLifetime`).
      iat: now,
      exp: now + lifetime,
      expiresIn: lifetime,
      resourceServer: brokerResourceServer(provider, audience, lifetime),
      extra: {
        ...(mode === 'on_behalf_of' ? { act } : {}),
        ...(tenant ? { tenant } : {}),
        ...(typeof sid === 'string' ? { sid } : {}),
      },
    } as never) as unknown as Parameters<typeof bindToken>[0] & {
      save(): Promise<string>;
      jti: string;
      iat?: number;
    };
    const cnf = bindToken(token, state.binding);
    const value = await token.save();
    await registry.record({
      jti: token.jti,
      parent: state.parent,
      root: state.root,
      subject: sub,
      clientId: client.clientId,
      audience: audience.resource,
      exp: now + lifetime,
      issuedAt: token.iat ?? now,
      ...(typeof sid === 'string' && sid ? { session: sid } : {}),
    });
    return {
      ...exchangeResponse({
        token: value,
        issuedTokenType: ACCESS_TOKEN_TYPE,
        tokenType: token.tokenType,
        expiresIn: secondsUntil(now + lifetime),
        scopes: granted,
      }),
      ...(cnf ? { cnf } : {}),
    };
  };
}
