import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AudienceConfig } from '../audience.ts';
import { type AuditedGrantDependencies, auditedGrant, type Issued } from '../grants/audited-grant.ts';
import { brokerResourceServer } from '../grants/broker-token.ts';
import { type Parameters, requestedAudience, scopesOf, single } from '../grants/parameters.ts';
import { decideOrRefuse } from '../grants/policy-refusal.ts';
import { refuse } from '../grants/refusal.ts';
import type { ExchangeFacts, PolicyEngine } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';

/** Request parameters of `client_credentials` at the broker: one audience (RFC 8707), optional scope. */
export const CLIENT_CREDENTIALS_PARAMETERS = ['resource', 'audience', 'scope'];
/** Accepted so that more than one audience is refused as `invalid_target` by the grant, not as a duplicate. */
export const CLIENT_CREDENTIALS_DUPLICATES = ['resource', 'audience'];

export interface ServiceIdentityDependencies extends AuditedGrantDependencies {
  audiences: readonly AudienceConfig[];
  policy: PolicyEngine;
  registry: TokenRegistry;
  /** Upper bound on any issued token's lifetime, seconds. */
  maxLifetimeSeconds: number;
}

interface Progress {
  audience?: string;
  requested?: string[];
}

/**
 * `client_credentials` (RFC 6749 §4.4): a service's token as itself, the "service identity" mode. It
 * replaces oidc-provider's handler so that it is decided like an exchange: declared policy (mode
 * `service_identity`, principal the client, resource the audience, `context.subject_type` "service"),
 * one audit event per request, and a record in the token registry, so the token is introspectable by
 * its client, revocable (RFC 7009) and its revocation cascades to every token exchanged from it.
 *
 * oidc-provider has already authenticated the client and checked that `client_credentials` is one of
 * its grant types, which only the operator can approve (see `registration/approvals.ts`).
 *
 * Scope = requested ∩ the client's approved scopes (its registered `scope` metadata; none when it has
 * none) ∩ the audience's scopes ∩ what the policy permits. Asking for a scope the client is not
 * approved for is refused (`invalid_scope`), as is a request the policy permits no scope of.
 */
export function serviceIdentityHandler(deps: ServiceIdentityDependencies) {
  return auditedGrant<Progress>(deps, {
    progress: () => ({}),
    issue: (ctx, progress) => issueServiceIdentity(ctx, deps, progress),
    describe: (progress, clientId) => ({
      initiator: { sub: clientId, tenant: null },
      agent: clientId,
      audience: progress.audience,
      mode: 'service_identity',
      chain: [clientId],
      requested: progress.requested,
    }),
  });
}

async function issueServiceIdentity(
  ctx: KoaContextWithOIDC,
  deps: ServiceIdentityDependencies,
  progress: Progress,
): Promise<Issued> {
  const params = ctx.oidc.params as Parameters;
  const client = ctx.oidc.client!;
  const now = Math.floor(Date.now() / 1000);

  const audience = requestedAudience(params, deps.audiences);
  progress.audience = audience.resource;

  const approved = scopesOf(client.metadata().scope as string | undefined);
  const requestedParam = single(params.scope);
  const requested = requestedParam
    ? scopesOf(requestedParam)
    : approved.filter((scope) => audience.scopes.includes(scope));
  progress.requested = requested;
  const unapproved = requested.filter((scope) => !approved.includes(scope));
  if (unapproved.length > 0) {
    throw refuse.scope(
      'scope_not_approved',
      'requested scope is not approved for this client',
      unapproved.join(' '),
    );
  }
  const understood = requested.filter((scope) => audience.scopes.includes(scope));

  const facts: ExchangeFacts = {
    client: client.clientId,
    subject: { sub: client.clientId, tenant: null },
    subjectType: 'service',
    agent: client.clientId,
    audience: audience.resource,
    mode: 'service_identity',
    tokenKind: 'access_token',
    depth: 0,
    chain: [],
    scopes: understood,
  };
  const decision = decideOrRefuse(deps.policy, facts, audience);
  const granted = decision.grantedScopes;
  // Whole seconds, as the exchange issues them (a policy lifetime may carry a fraction).
  const lifetime = Math.floor(Math.min(decision.lifetimeSeconds, deps.maxLifetimeSeconds));

  const { provider } = ctx.oidc;
  const token = new provider.ClientCredentials({
    client,
    scope: granted.join(' ') || undefined,
    expiresIn: lifetime,
    resourceServer: brokerResourceServer(provider, audience, lifetime),
  } as never) as unknown as { save(): Promise<string>; jti: string };
  const value = await token.save();
  await deps.registry.record({
    jti: token.jti,
    parent: null,
    // Its own root: revoking it (or everything of its client, as subject) ends what derives from it.
    root: `${deps.issuer}#${token.jti}`,
    subject: client.clientId,
    clientId: client.clientId,
    audience: audience.resource,
    exp: now + lifetime,
  });
  return {
    scopes: granted,
    body: {
      access_token: value,
      token_type: 'Bearer',
      expires_in: lifetime,
      ...(granted.length ? { scope: granted.join(' ') } : {}),
    },
  };
}
