import { randomUUID } from 'node:crypto';
import { traceparent } from '@baton/audit';
import { JWT_TOKEN_TYPE } from '@baton/broker-client';
import { importJWK, type JWK, SignJWT } from 'jose';
import type { JWK as ProviderJwk } from 'oidc-provider';
import type { Issued } from '../grants/audited-grant.ts';
import { refuse } from '../grants/refusal.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import type { Exchanged } from '../token-exchange/exchanged.ts';
import { exchangeResponse, secondsUntil } from '../token-exchange/response.ts';
import { AUTHORIZATION_GRANT_TYP } from './assertion.ts';

/**
 * The home broker's side of a cross-domain hop (identity-chaining draft §2.3): a token exchange whose
 * one `audience` is a configured foreign authorization server, asked for as
 * `requested_token_type=urn:ietf:params:oauth:token-type:jwt`, yields a JWT authorization grant
 * (RFC 7523) instead of an access token. It is decided by the same checks and policy as any exchange
 * (the policy's resource is the foreign issuer), lives no longer than an exchanged token would, and
 * carries what the foreign broker needs to keep the chain: `sub`, the scopes as narrowed, `act` with
 * this client outermost, `client_id`, the root grant (`baton_root`) and the trace (`baton_trace`) so
 * revocation and audit cross the boundary. It is recorded like any issued token (revocable with its chain).
 */
export class AuthorizationGrantIssuer {
  readonly #issuer: string;
  readonly #key: Promise<{ key: CryptoKey | Uint8Array; kid: string | undefined }>;
  readonly #registry: TokenRegistry;

  constructor(options: { issuer: string; signingJwk: ProviderJwk; registry: TokenRegistry }) {
    this.#issuer = options.issuer;
    this.#registry = options.registry;
    const { signingJwk } = options;
    this.#key = importJWK(signingJwk as JWK, 'ES256').then((key) => ({ key, kid: signingJwk.kid }));
  }

  async issue(state: Exchanged): Promise<Issued> {
    const { requestedType, mode, audience, sub, tenant, act, granted, lifetime, now, clientId, subject } =
      state;
    if (requestedType !== JWT_TOKEN_TYPE) {
      throw refuse.request(
        'requested_token_type_unsupported',
        `a grant for another trust domain is requested as ${JWT_TOKEN_TYPE}`,
      );
    }
    if (mode !== 'on_behalf_of') {
      throw refuse.request(
        'impersonation_not_allowed',
        'a grant for another trust domain carries its delegation chain (on_behalf_of only)',
      );
    }
    const { key, kid } = await this.#key;
    const jti = randomUUID();
    const sid = subject.claims.claims.sid;
    const grant = await new SignJWT({
      client_id: clientId,
      ...(granted.length ? { scope: granted.join(' ') } : {}),
      act,
      ...(tenant ? { tenant } : {}),
      ...(typeof sid === 'string' && sid ? { sid } : {}),
      baton_root: state.root,
      baton_trace: traceparent(state.trace.traceId, state.trace.spanId),
    })
      .setProtectedHeader({ alg: 'ES256', typ: AUTHORIZATION_GRANT_TYP, ...(kid ? { kid } : {}) })
      .setIssuer(this.#issuer)
      .setSubject(sub)
      .setAudience(audience.resource)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .setJti(jti)
      .sign(key);
    await this.#registry.record({
      jti,
      parent: state.parent,
      root: state.root,
      subject: sub,
      clientId,
      audience: audience.resource,
      exp: now + lifetime,
      issuedAt: now,
      ...(typeof sid === 'string' && sid ? { session: sid } : {}),
    });
    return exchangeResponse({
      token: grant,
      issuedTokenType: JWT_TOKEN_TYPE,
      // RFC 8693 §2.2.1: not an access token.
      tokenType: 'N_A',
      expiresIn: secondsUntil(now + lifetime),
      scopes: granted,
    });
  }
}
