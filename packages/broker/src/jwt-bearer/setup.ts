import { JWT_TOKEN_TYPE } from '@baton/broker-client';
import type { CallerKindRule } from '@baton/resource-server';
import type { JWK, Provider } from 'oidc-provider';
import type { AudienceConfig } from '../audience.ts';
import type { AuditedGrantDependencies } from '../grants/audited-grant.ts';
import type { PolicyEngine } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import type { ExchangeRateLimiters } from '../token-exchange/checks/rate-limit.ts';
import type { TrustedIssuer } from '../token-exchange/input-token.ts';
import { AssertionVerifier } from './assertion.ts';
import { AuthorizationGrantIssuer } from './authorization-grant.ts';
import { JWT_BEARER_DUPLICATES, JWT_BEARER_GRANT, JWT_BEARER_PARAMETERS, jwtBearerHandler } from './grant.ts';
import {
  checkJwtBearerOptions,
  type IdentityAssertionGrantOptions,
  type IdentityChainingOptions,
} from './options.ts';

const DEFAULT_MAX_AGE_SECONDS = 300;
/** ID-JAG draft §6.2: the profile a resource authorization server advertises. */
export const ID_JAG_GRANT_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag';

/** The broker options this module reads. */
export interface JwtBearerBrokerOptions {
  trustedIssuers: readonly TrustedIssuer[];
  audiences: readonly AudienceConfig[];
  identityAssertionGrants?: IdentityAssertionGrantOptions | undefined;
  identityChaining?: IdentityChainingOptions | undefined;
}

/**
 * ID-JAG and cross-domain hops, as `startBroker` wires them: the foreign domains a token exchange may
 * issue a JWT authorization grant for (added to the exchange's audiences), and `register`, which adds
 * the RFC 7523 jwt-bearer grant when there is anything to redeem (an ID-JAG issuer, a home domain).
 */
export function jwtBearerSetup(
  options: JwtBearerBrokerOptions,
  context: { issuer: string; signingJwk: JWK; registry: TokenRegistry },
): {
  foreignAudiences: AudienceConfig[];
  register(
    provider: Provider,
    deps: AuditedGrantDependencies & {
      policy: PolicyEngine;
      callerKind: CallerKindRule;
      maxLifetimeSeconds: number;
      limiters?: ExchangeRateLimiters;
    },
  ): void;
} {
  checkJwtBearerOptions({ issuer: context.issuer, ...options });
  const { identityAssertionGrants: idJag, identityChaining: chaining } = options;
  const foreignDomains = chaining?.foreignDomains ?? [];
  const grants = foreignDomains.length ? new AuthorizationGrantIssuer(context) : undefined;
  const foreignAudiences = foreignDomains.map((foreign) => ({
    resource: foreign.issuer,
    scopes: foreign.scopes,
    foreignDomain: grants!,
  }));
  const identityProviders = (idJag?.issuers ?? []).map(
    (issuer) => options.trustedIssuers.find((trusted) => trusted.issuer === issuer)!,
  );
  const homeDomains = chaining?.homeDomains ?? [];
  return {
    foreignAudiences,
    register(provider, deps) {
      // In the metadata (RFC 8414): the token types a client may request for another domain (chaining
      // draft §3), and that ID-JAGs are redeemed here (ID-JAG draft §6.2).
      const metadata = {
        ...(foreignDomains.length
          ? { identity_chaining_requested_token_types_supported: [JWT_TOKEN_TYPE] }
          : {}),
        ...(identityProviders.length
          ? { authorization_grant_profiles_supported: [ID_JAG_GRANT_PROFILE] }
          : {}),
      };
      if (Object.keys(metadata).length) {
        provider.use(async (ctx, next) => {
          await next();
          if (ctx.oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
            ctx.body = { ...ctx.body, ...metadata };
          }
        });
      }
      if (!identityProviders.length && !homeDomains.length) return;
      const assertions = new AssertionVerifier({
        audience: context.issuer,
        identityProviders,
        homeDomains,
        maxAgeSeconds: {
          id_jag: idJag?.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS,
          authorization_grant: chaining?.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS,
        },
      });
      provider.registerGrantType(
        JWT_BEARER_GRANT,
        jwtBearerHandler({
          ...deps,
          assertions,
          audiences: options.audiences,
          registry: context.registry,
        }) as never,
        JWT_BEARER_PARAMETERS,
        JWT_BEARER_DUPLICATES,
      );
    },
  };
}
