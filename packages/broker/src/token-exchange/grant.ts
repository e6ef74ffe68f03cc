import { createHash } from 'node:crypto';
import {
  ACCEPTED_INPUT_TOKEN_TYPES,
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
import {
  type ActClaim,
  actorsOf,
  type DelegationMode,
  isBatonError,
  parseAct,
  sessionOf,
  tenantOf,
  withActor,
} from '@baton/core';
import type { EnvelopeIssuer } from '@baton/envelope';
import { type AccessTokenClaims, type CallerKindRule, sameResource } from '@baton/resource-server';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AudienceConfig } from '../audience.ts';
import {
  type AuditedGrantDependencies,
  auditedGrant,
  type Issued,
  onwardTraceparent,
  type RequestTrace,
} from '../grants/audited-grant.ts';
import { brokerResourceServer } from '../grants/broker-token.ts';
import { type Parameters, requestedAudience, scopesOf, single } from '../grants/parameters.ts';
import { decideOrRefuse } from '../grants/policy-refusal.ts';
import { refuse } from '../grants/refusal.ts';
import {
  type ExchangeFacts,
  type IssuedTokenKind,
  type PolicyEngine,
  type PolicyMode,
  policyModeOf,
} from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { InputTokenError, type InputTokenVerifier } from './input-token.ts';

/** Request parameters of the grant (RFC 8693 §2.1), plus Baton's `delegation_mode` extension. */
export const TOKEN_EXCHANGE_PARAMETERS = [
  'resource',
  'audience',
  'scope',
  'requested_token_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'delegation_mode',
];
/** RFC 8693 allows several `resource` / `audience` values; Baton then refuses more than one (one audience per token). */
export const TOKEN_EXCHANGE_DUPLICATES = ['resource', 'audience'];

export interface TokenExchangeDependencies extends AuditedGrantDependencies {
  inputs: InputTokenVerifier;
  audiences: readonly AudienceConfig[];
  policy: PolicyEngine;
  registry: TokenRegistry;
  /** Tells a subject with a person behind it from a machine (`defaultCallerKind` unless configured). */
  callerKind: CallerKindRule;
  envelopes?: EnvelopeIssuer;
  /** Upper bound on any issued token's lifetime, seconds. */
  maxLifetimeSeconds: number;
  /** Claims for the token model being saved, read back by `extraTokenClaims`. */
  pendingClaims: WeakMap<object, Record<string, unknown>>;
}

interface Progress {
  subject?: AccessTokenClaims;
  agent?: string;
  audience?: string;
  chain?: string[];
  /** As the policy and the audit name it (`txn_token` for a Transaction Token). */
  mode?: PolicyMode;
  requested?: string[];
}

/**
 * The RFC 8693 token-exchange grant, registered on oidc-provider (which has already authenticated the
 * client and checked that it may use this grant type).
 */
export function tokenExchangeHandler(deps: TokenExchangeDependencies) {
  return auditedGrant<Progress>(deps, {
    progress: () => ({}),
    issue: (ctx, progress, trace) => exchange(ctx, deps, progress, trace),
    describe: (progress, clientId) => ({
      initiator: {
        sub: progress.subject?.subject ?? '(unverified)',
        tenant: progress.subject ? tenantOf(progress.subject) : null,
      },
      agent: progress.agent ?? progress.subject?.clientId ?? '(unknown)',
      audience: progress.audience,
      mode: progress.mode ?? 'on_behalf_of',
      chain: progress.chain ?? [clientId],
      requested: progress.requested,
    }),
  });
}

async function exchange(
  ctx: KoaContextWithOIDC,
  deps: TokenExchangeDependencies,
  progress: Progress,
  trace: RequestTrace,
): Promise<Issued> {
  const params = ctx.oidc.params as Parameters;
  const client = ctx.oidc.client!;
  const now = Math.floor(Date.now() / 1000);

  // 1. Parameters (RFC 8693 §2.1).
  const subjectToken = single(params.subject_token);
  const subjectTokenType = single(params.subject_token_type);
  if (!subjectToken || !subjectTokenType) {
    throw refuse.request('parameters_missing', 'subject_token and subject_token_type are required');
  }
  if (!ACCEPTED_INPUT_TOKEN_TYPES.has(subjectTokenType)) {
    throw refuse.request(
      'subject_token_type_unsupported',
      `subject_token_type must be ${ACCESS_TOKEN_TYPE} or ${JWT_TOKEN_TYPE}`,
    );
  }
  const requestedType = single(params.requested_token_type) ?? ACCESS_TOKEN_TYPE;
  if (![ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, TXN_TOKEN_TYPE].includes(requestedType)) {
    throw refuse.request(
      'requested_token_type_unsupported',
      'requested_token_type is not one this broker issues',
    );
  }
  if (requestedType === TXN_TOKEN_TYPE && !deps.envelopes) {
    throw refuse.request(
      'requested_token_type_unsupported',
      'this broker is not configured to issue Transaction Tokens',
    );
  }
  const audience = requestedAudience(params, deps.audiences);
  progress.audience = audience.resource;
  // A Transaction Token is a token kind: it is presented beside the service's own token
  // (`service_identity`), and `delegation_mode` does not apply to it.
  const tokenKind: IssuedTokenKind = requestedType === TXN_TOKEN_TYPE ? 'txn_token' : 'access_token';
  const requestedMode =
    tokenKind === 'txn_token' ? 'service_identity' : (single(params.delegation_mode) ?? 'on_behalf_of');
  if (
    tokenKind === 'access_token' &&
    requestedMode !== 'on_behalf_of' &&
    requestedMode !== 'restricted_user'
  ) {
    throw refuse.request(
      'delegation_mode_unknown',
      'delegation_mode must be on_behalf_of or restricted_user',
    );
  }
  const mode = requestedMode as DelegationMode;
  progress.mode = policyModeOf({ mode, tokenKind });

  // 2. The subject token: validated as strictly as at the MCP boundary, and not revoked.
  const subject = await verifyInput(deps, subjectToken, 'subject');
  progress.subject = subject.claims;
  if (
    subject.brokerIssued &&
    !(subject.claims.tokenId && (await deps.registry.isActive(subject.claims.tokenId, now)))
  ) {
    throw refuse.request(
      'subject_revoked',
      'subject_token is not active (revoked, or derived from a revoked grant)',
    );
  }

  // 3. The acting party: the authenticated client, or an actor token that names it.
  const actorToken = single(params.actor_token);
  const actorTokenType = single(params.actor_token_type);
  if (Boolean(actorToken) !== Boolean(actorTokenType)) {
    throw refuse.request('parameters_missing', 'actor_token and actor_token_type go together');
  }
  if (actorToken) {
    if (!ACCEPTED_INPUT_TOKEN_TYPES.has(actorTokenType!)) {
      throw refuse.request('actor_token_type_unsupported', 'actor_token_type must be an access token type');
    }
    const actor = await verifyInput(deps, actorToken, 'actor');
    if (actor.claims.subject !== client.clientId && actor.claims.clientId !== client.clientId) {
      throw refuse.request('actor_mismatch', 'actor_token does not identify the authenticated client');
    }
  }

  // 4. No laundering: the subject token must have been issued to this client (its resource is in the
  //    token's audience), or name it in `may_act`. RFC 8693 §4.4 identifies the actor by `sub` and
  //    `iss` together; this client is (`sub` = its client id, `iss` = this broker). A `may_act` without
  //    `iss` is refused: a bare `sub` could name a party of the same id at any other issuer.
  const mayAct = subject.claims.claims.may_act as { sub?: unknown; iss?: unknown } | undefined;
  if (mayAct !== undefined) {
    if (mayAct?.sub !== client.clientId || (mayAct.iss !== undefined && mayAct.iss !== deps.issuer)) {
      throw refuse.request('may_act_mismatch', 'subject_token names another party in may_act');
    }
    if (mayAct.iss === undefined) {
      throw refuse.request(
        'may_act_issuer_missing',
        'may_act must identify the actor by sub and iss (RFC 8693 section 4.4)',
      );
    }
  }
  const ownResources = (client.metadata().baton_resources as string[] | undefined) ?? [];
  const issuedForClient = subject.claims.audience.some((aud) =>
    ownResources.some((own) => sameResource(own, aud)),
  );
  if (!issuedForClient && mayAct === undefined) {
    throw refuse.request('subject_not_for_client', 'subject_token was not issued for this client');
  }

  // 5. The chain: the agent innermost, then each service, this client outermost. A broker-issued
  //    subject carries its chain in `act`, except a service-identity token, which starts one.
  const { claims } = subject.claims;
  let previous: ActClaim | undefined;
  if (!subject.brokerIssued || (claims.act === undefined && deps.callerKind(subject.claims) === 'service')) {
    previous = { sub: subject.claims.clientId, iss: subject.claims.issuer };
  } else {
    try {
      previous = parseAct(claims.act);
    } catch {
      throw refuse.request('act_malformed', 'subject_token carries a malformed act claim');
    }
  }
  if (!previous)
    throw refuse.request('act_missing', 'a broker-issued subject_token must carry its delegation chain');
  const act = withActor({ sub: client.clientId }, previous);
  let actors: ActClaim[];
  try {
    actors = actorsOf(act);
  } catch {
    // One more hop than any envelope can carry: refused whatever the declared policy's depth says.
    throw refuse.request('depth_exceeded', 'the delegation chain would be longer than an envelope can carry');
  }
  const agent = actors.at(-1)!.sub;
  const chain = actors.slice(0, -1).map((actor) => actor.sub);
  progress.agent = agent;
  progress.chain = actors.map((actor) => actor.sub);

  // 6. Whether a person stands behind the subject: one rule for every hop, asked of the client the
  //    chain started from (the agent), so a person-less token stays person-less however far it goes.
  //    The issued token then names the machine by that client id (RFC 9068 §2.2), whatever `sub` its
  //    identity provider used, so the next hop reaches the same answer.
  const subjectType = deps.callerKind({ ...subject.claims, clientId: agent });
  const sub = subjectType === 'service' ? agent : subject.claims.subject;
  const tenant = tenantOf(subject.claims);

  // 7. Scopes: never wider than the subject token, at any hop.
  const subjectScopes = new Set(subject.claims.scopes);
  const requestedParam = single(params.scope);
  const requested = requestedParam ? scopesOf(requestedParam) : [...subjectScopes];
  progress.requested = requested;
  const wider = requested.filter((scope) => !subjectScopes.has(scope));
  if (wider.length > 0) {
    throw refuse.scope(
      'scope_wider_than_subject',
      'requested scope exceeds the subject token',
      wider.join(' '),
    );
  }
  const understood = requested.filter((scope) => audience.scopes.includes(scope));

  // 8. Declared policy.
  const facts: ExchangeFacts = {
    client: client.clientId,
    subject: { sub, tenant },
    subjectType,
    agent,
    audience: audience.resource,
    mode,
    tokenKind,
    depth: chain.length,
    chain,
    scopes: understood,
  };
  const decision = decideOrRefuse(deps.policy, facts, audience);
  const granted = decision.grantedScopes;

  // 9. Lifetime: the policy's, never beyond the subject's. Whole seconds, rounded down (an `exp` may
  //    carry a fraction), so no token outlives its subject and every issuer accepts it.
  const lifetime = Math.floor(
    Math.min(decision.lifetimeSeconds, deps.maxLifetimeSeconds, subject.claims.expiresAt - now),
  );
  if (lifetime <= 0)
    throw refuse.request('subject_expiring', 'subject_token expires too soon to derive a token');
  const root = subject.brokerIssued
    ? (await deps.registry.find(subject.claims.tokenId!))!.root
    : `${subject.claims.issuer}#${subject.claims.tokenId ?? createHash('sha256').update(subjectToken).digest('base64url')}`;

  // 10. Issue.
  if (audience.platform && mode === 'on_behalf_of') {
    let platformToken: { accessToken: string; expiresAt: number; scope?: string };
    try {
      platformToken = await audience.platform.token({
        user: { sub, tenant },
        scopes: granted,
        subjectToken,
        traceparent: onwardTraceparent(trace),
      });
    } catch (error) {
      const code = isBatonError(error) ? error.code : 'error';
      if (code === 'ERR_CONNECTOR_UNAVAILABLE') {
        throw refuse.unavailable(
          'platform_unavailable',
          'the platform could not be reached; try again later',
          code,
        );
      }
      throw refuse.target('platform_refused', 'the platform refused a token for this person', code);
    }
    return {
      scopes: granted,
      body: {
        access_token: platformToken.accessToken,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: Math.max(0, platformToken.expiresAt - now),
        ...(platformToken.scope
          ? { scope: platformToken.scope }
          : granted.length
            ? { scope: granted.join(' ') }
            : {}),
      },
    };
  }
  if (tokenKind === 'txn_token') {
    // The envelope lives no longer than the policy and the subject token allow (`lifetime`), and
    // carries the exchange's own trace id, so it and the audit record of this exchange correlate.
    const { envelope, token } = deps.envelopes!.mint(
      {
        actor: { type: subjectType, sub, tenant },
        agent: { type: 'ai_agent', id: agent, client_id: agent },
        session: { id: sessionOf(subject.claims, root), trace_id: trace.traceId },
        authorization: { scopes: granted, confidence: 'medium' },
        delegation: { mode: 'service_identity', allowed: [audience.resource] },
      },
      { ttlSeconds: lifetime },
    );
    return {
      scopes: granted,
      body: {
        access_token: token,
        issued_token_type: TXN_TOKEN_TYPE,
        token_type: 'N_A',
        expires_in: envelope.expires_at - envelope.issued_at,
        ...(granted.length ? { scope: granted.join(' ') } : {}),
      },
    };
  }
  const { provider } = ctx.oidc;
  const token = new provider.AccessToken({
    accountId: sub,
    client,
    scope: granted.join(' ') || undefined,
    gty: 'token_exchange',
    expiresIn: lifetime,
    resourceServer: brokerResourceServer(provider, audience, lifetime),
  } as never) as unknown as { save(): Promise<string>; jti: string };
  deps.pendingClaims.set(token, {
    ...(mode === 'on_behalf_of' ? { act } : {}),
    ...(tenant ? { tenant } : {}),
    ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
  });
  const value = await token.save();
  await deps.registry.record({
    jti: token.jti,
    parent: subject.brokerIssued ? subject.claims.tokenId! : null,
    root,
    subject: sub,
    clientId: client.clientId,
    audience: audience.resource,
    exp: now + lifetime,
  });
  return {
    scopes: granted,
    body: {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: lifetime,
      ...(granted.length ? { scope: granted.join(' ') } : {}),
    },
  };
}

async function verifyInput(deps: TokenExchangeDependencies, token: string, role: 'subject' | 'actor') {
  try {
    return await deps.inputs.verify(token, role);
  } catch (error) {
    if (error instanceof InputTokenError) throw refuse.request(`${role}_${error.reason}`, error.message);
    throw error;
  }
}
