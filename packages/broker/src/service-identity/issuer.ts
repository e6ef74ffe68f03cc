import type { Issued } from '../grants/audited-grant.ts';
import { brokerResourceServer } from '../grants/broker-token.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import type { Target } from '../grants/target.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { bindToken, type SenderConstrained } from '../sender-constraint/check.ts';
import type { Lifetime } from './checks/lifetime.ts';
import type { Decided } from './checks/policy.ts';

/**
 * Issues the client's own token (oidc-provider's `ClientCredentials` model, an RFC 9068 JWT) and
 * records it as its own root: revoking it (or everything of its client, as subject) ends what derives
 * from it.
 */
export function serviceIdentityIssuer(registry: TokenRegistry, brokerIssuer: string) {
  return async function issueServiceIdentity(
    state: GrantRequest & SenderConstrained & Target & Decided & Lifetime,
  ): Promise<Issued> {
    const { provider, client, audience, granted, lifetime, now } = state;
    const token = new provider.ClientCredentials({
      client,
      scope: granted.join(' ') || undefined,
      expiresIn: lifetime,
      resourceServer: brokerResourceServer(provider, audience, lifetime),
    } as never) as unknown as Parameters<typeof bindToken>[0] & {
      save(): Promise<string>;
      jti: string;
      iat?: number;
    };
    const cnf = bindToken(token, state.binding);
    const value = await token.save();
    await registry.record({
      jti: token.jti,
      parent: null,
      root: `${brokerIssuer}#${token.jti}`,
      subject: client.clientId,
      clientId: client.clientId,
      audience: audience.resource,
      exp: now + lifetime,
      issuedAt: token.iat ?? now,
    });
    return {
      scopes: granted,
      ...(cnf ? { cnf } : {}),
      body: {
        access_token: value,
        token_type: token.tokenType,
        expires_in: lifetime,
        ...(granted.length ? { scope: granted.join(' ') } : {}),
      },
    };
  };
}
