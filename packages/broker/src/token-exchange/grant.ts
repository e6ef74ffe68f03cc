import { createHash } from 'node:crypto';
import {
  type AuditSink,
  auditEvent,
  newSpanId,
  newTraceId,
  parentSpanIdFrom,
  traceIdFrom,
} from '@baton/audit';
import {
  ACCEPTED_INPUT_TOKEN_TYPES,
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
import type { EnvelopeIssuer } from '@baton/envelope';
import {
  type AccessTokenClaims,
  type ActClaim,
  actorsOf,
  BearerError,
  parseAct,
  sameResource,
  withActor,
} from '@baton/resource-server';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { ExchangeFacts, PolicyEngine } from '../policy/facts.ts';
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

export interface AudienceConfig {
  /** The resource URI the issued token is for (its `aud`). */
  resource: string;
  /** Scopes the resource understands. */
  scopes: readonly string[];
  /**
   * For a platform that wants its own grant (RFC 7523 JWT bearer, Entra-style on-behalf-of): the
   * connector that obtains the platform's token for the person, after Baton's own checks and policy.
   * Structurally a `PlatformConnector` from `@baton/connectors`.
   */
  platform?: PlatformTokenSource;
}

/** What the broker needs of a platform connector. */
export interface PlatformTokenSource {
  token(request: {
    user: { sub: string; tenant: string | null };
    scopes: readonly string[];
    subjectToken?: string;
    traceparent?: string;
  }): Promise<{ accessToken: string; expiresAt: number; scope?: string }>;
}

export interface TokenExchangeDependencies {
  issuer: string;
  inputs: InputTokenVerifier;
  audiences: readonly AudienceConfig[];
  policy: PolicyEngine;
  registry: TokenRegistry;
  audit: AuditSink;
  envelopes?: EnvelopeIssuer;
  /** Upper bound on any issued token's lifetime, seconds. */
  maxLifetimeSeconds: number;
  /** Claims for the token model being saved, read back by `extraTokenClaims`. */
  pendingClaims: WeakMap<object, Record<string, unknown>>;
}

/** A refusal with the RFC 8693 error code and a stable private reason for the audit. */
class Refusal extends Error {
  readonly reason: string;
  readonly oauthError: Error;
  constructor(reason: string, oauthError: Error) {
    super(oauthError.message);
    this.reason = reason;
    this.oauthError = oauthError;
  }
}

const refuse = {
  request: (reason: string, description: string) =>
    new Refusal(reason, new errors.InvalidRequest(description)),
  target: (reason: string, description: string) => new Refusal(reason, new errors.InvalidTarget(description)),
  scope: (reason: string, description: string, scope = '') =>
    new Refusal(reason, new errors.InvalidScope(description, scope)),
};

interface Progress {
  subject?: AccessTokenClaims;
  agent?: string;
  audience?: string;
  chain?: string[];
  mode?: string;
  requested?: string[];
}

/**
 * The RFC 8693 token-exchange grant, registered on oidc-provider (which has already authenticated the
 * client and checked that it may use this grant type).
 */
export function tokenExchangeHandler(deps: TokenExchangeDependencies) {
  return async function tokenExchange(ctx: KoaContextWithOIDC): Promise<void> {
    const started = performance.now();
    const incoming = ctx.get('traceparent');
    const traceId = traceIdFrom(incoming) ?? newTraceId();
    const span = { id: newSpanId(), parent: parentSpanIdFrom(incoming) };
    const progress: Progress = {};
    const client = ctx.oidc.client!;
    try {
      const result = await exchange(ctx, deps, progress, traceId);
      await record(deps, client.clientId, progress, traceId, span, started, 'ok', undefined, result.scopes);
      ctx.body = result.body;
    } catch (error) {
      const reason =
        error instanceof Refusal
          ? error.reason
          : error instanceof BearerError
            ? error.reason
            : 'internal_error';
      await record(
        deps,
        client.clientId,
        progress,
        traceId,
        span,
        started,
        error instanceof Refusal ? 'denied' : 'error',
        reason,
        [],
      );
      if (error instanceof Refusal) throw error.oauthError;
      if (error instanceof BearerError && error.status === 503) {
        throw new errors.InvalidRequest(
          'a trusted issuer could not be reached to validate the subject token; try again later',
          503,
        );
      }
      throw error;
    }
  };
}

async function exchange(
  ctx: KoaContextWithOIDC,
  deps: TokenExchangeDependencies,
  progress: Progress,
  traceId: string,
) {
  const params = ctx.oidc.params as Record<string, string | string[] | undefined>;
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
  const targets = [...list(params.resource), ...list(params.audience)];
  if (targets.length !== 1) {
    throw refuse.target(
      'audience_count',
      'exactly one resource or audience is required: a token has one audience',
    );
  }
  const audience = deps.audiences.find((candidate) => sameResource(candidate.resource, targets[0]!));
  if (!audience)
    throw refuse.target(
      'audience_unknown',
      'the requested audience is not one this broker issues tokens for',
    );
  progress.audience = audience.resource;
  const mode =
    requestedType === TXN_TOKEN_TYPE ? 'txn_token' : (single(params.delegation_mode) ?? 'on_behalf_of');
  if (mode !== 'on_behalf_of' && mode !== 'restricted_user' && mode !== 'txn_token') {
    throw refuse.request(
      'delegation_mode_unknown',
      'delegation_mode must be on_behalf_of or restricted_user',
    );
  }
  progress.mode = mode;

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
  //    token's audience), or name it in `may_act`.
  const mayAct = subject.claims.claims.may_act as { sub?: unknown } | undefined;
  if (mayAct !== undefined && mayAct?.sub !== client.clientId) {
    throw refuse.request('may_act_mismatch', 'subject_token names another party in may_act');
  }
  const ownResources = (client.metadata().baton_resources as string[] | undefined) ?? [];
  const issuedForClient = subject.claims.audience.some((aud) =>
    ownResources.some((own) => sameResource(own, aud)),
  );
  if (!issuedForClient && mayAct?.sub !== client.clientId) {
    throw refuse.request('subject_not_for_client', 'subject_token was not issued for this client');
  }

  // 5. The chain: the agent innermost, then each service, this client outermost.
  let previous: ActClaim | undefined;
  try {
    previous = subject.brokerIssued
      ? parseAct(subject.claims.claims.act)
      : { sub: subject.claims.clientId, iss: subject.claims.issuer };
  } catch {
    throw refuse.request('act_malformed', 'subject_token carries a malformed act claim');
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

  // 6. Scopes: never wider than the subject token, at any hop.
  const subjectScopes = new Set(subject.claims.scopes);
  const requestedParam = single(params.scope);
  const requested = requestedParam
    ? [...new Set(requestedParam.split(' ').filter(Boolean))]
    : [...subjectScopes];
  progress.requested = requested;
  const wider = requested.filter((scope) => !subjectScopes.has(scope));
  if (wider.length > 0) {
    throw refuse.scope(
      'scope_wider_than_subject',
      `requested scope exceeds the subject token: ${wider.join(' ')}`,
      wider.join(' '),
    );
  }
  const understood = requested.filter((scope) => audience.scopes.includes(scope));

  // 7. Declared policy.
  const facts: ExchangeFacts = {
    client: client.clientId,
    subject: { sub: subject.claims.subject, tenant: tenantOf(subject.claims) },
    agent,
    audience: audience.resource,
    mode,
    depth: chain.length,
    chain,
    scopes: understood,
  };
  const decision = deps.policy.decide(facts);
  if (!decision.allowed) {
    // Classified on the decision's structured kind, never on its reasons: those quote operator-chosen
    // rule ids and client ids, which may contain any words.
    const because = decision.reasons.join('; ');
    if (decision.refusal === 'depth_exceeded') throw refuse.request('depth_exceeded', because);
    if (
      decision.refusal === 'not_permitted' &&
      understood.length > 0 &&
      permitsOtherScopes(deps.policy, facts, audience)
    ) {
      throw refuse.scope(
        'scope_not_permitted',
        `policy permits none of the requested scopes: ${because}`,
        understood.join(' '),
      );
    }
    if (mode === 'restricted_user')
      throw refuse.request('impersonation_not_allowed', `impersonation is not allowed: ${because}`);
    throw refuse.target('policy_denied', because);
  }
  const granted = decision.grantedScopes;
  if (understood.length > 0 && granted.length === 0) {
    throw refuse.scope(
      'scope_not_permitted',
      'policy permits none of the requested scopes',
      understood.join(' '),
    );
  }

  // 8. Lifetime: the policy's, never beyond the subject's. Whole seconds, rounded down (an `exp` may
  //    carry a fraction), so no token outlives its subject and every issuer accepts it.
  const lifetime = Math.floor(
    Math.min(decision.lifetimeSeconds, deps.maxLifetimeSeconds, subject.claims.expiresAt - now),
  );
  if (lifetime <= 0)
    throw refuse.request('subject_expiring', 'subject_token expires too soon to derive a token');
  const root = subject.brokerIssued
    ? (await deps.registry.find(subject.claims.tokenId!))!.root
    : `${subject.claims.issuer}#${subject.claims.tokenId ?? createHash('sha256').update(subjectToken).digest('base64url')}`;

  // 9. Issue.
  if (audience.platform && mode === 'on_behalf_of') {
    const traceparent = ctx.get('traceparent');
    let platformToken: { accessToken: string; expiresAt: number; scope?: string };
    try {
      platformToken = await audience.platform.token({
        user: { sub: subject.claims.subject, tenant: tenantOf(subject.claims) },
        scopes: granted,
        subjectToken,
        ...(traceparent ? { traceparent } : {}),
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_CONNECTOR_UNAVAILABLE') {
        throw new Refusal(
          'platform_unavailable',
          new errors.InvalidRequest('the platform could not be reached; try again later', 503),
        );
      }
      throw refuse.target(
        'platform_refused',
        `the platform refused a token for this person (${code ?? 'error'})`,
      );
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
  if (mode === 'txn_token') {
    // The envelope lives no longer than the policy and the subject token allow (`lifetime`), and
    // carries the exchange's own trace id, so it and the audit record of this exchange correlate.
    const { envelope, token } = deps.envelopes!.mint(
      {
        actor: { type: 'user', sub: subject.claims.subject, tenant: tenantOf(subject.claims) },
        agent: { type: 'ai_agent', id: agent, client_id: agent },
        session: { id: sessionOf(subject.claims, root), trace_id: traceId },
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
    accountId: subject.claims.subject,
    client,
    scope: granted.join(' ') || undefined,
    gty: 'token_exchange',
    expiresIn: lifetime,
    resourceServer: new provider.ResourceServer(audience.resource, {
      audience: audience.resource,
      scope: audience.scopes.join(' '),
      accessTokenFormat: 'jwt',
      accessTokenTTL: lifetime,
      jwt: { sign: { alg: 'ES256' } },
    }),
  } as never) as unknown as { save(): Promise<string>; jti: string; exp: number; expiration: number };
  deps.pendingClaims.set(token, {
    ...(mode === 'on_behalf_of' ? { act } : {}),
    ...(tenantOf(subject.claims) ? { tenant: tenantOf(subject.claims) } : {}),
    ...(typeof subject.claims.claims.sid === 'string' ? { sid: subject.claims.claims.sid } : {}),
  });
  const value = await token.save();
  await deps.registry.record({
    jti: token.jti,
    parent: subject.brokerIssued ? subject.claims.tokenId! : null,
    root,
    subject: subject.claims.subject,
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

/**
 * Whether the policy would let this client have this audience, in this mode, with some scope other
 * than the ones it asked for: then the refusal is about the scopes (invalid_scope), not the target.
 */
function permitsOtherScopes(policy: PolicyEngine, facts: ExchangeFacts, audience: AudienceConfig): boolean {
  const others = audience.scopes.filter((scope) => !facts.scopes.includes(scope));
  if (others.length === 0) return false;
  const probe = policy.decide({ ...facts, scopes: others });
  return probe.allowed || probe.refusal === 'depth_exceeded';
}

async function verifyInput(deps: TokenExchangeDependencies, token: string, role: 'subject' | 'actor') {
  try {
    return await deps.inputs.verify(token, role);
  } catch (error) {
    if (error instanceof InputTokenError) throw refuse.request(`${role}_${error.reason}`, error.message);
    throw error;
  }
}

async function record(
  deps: TokenExchangeDependencies,
  clientId: string,
  progress: Progress,
  traceId: string,
  span: { id: string; parent: string | undefined },
  started: number,
  outcome: 'ok' | 'denied' | 'error',
  reason: string | undefined,
  granted: readonly string[],
): Promise<void> {
  const subject = progress.subject;
  await deps.audit.write(
    auditEvent({
      action: 'token.exchange',
      component: deps.issuer,
      trace_id: traceId,
      initiator: { sub: subject?.subject ?? '(unverified)', tenant: subject ? tenantOf(subject) : null },
      agent: {
        id: progress.agent ?? subject?.clientId ?? '(unknown)',
        client_id: progress.agent ?? subject?.clientId ?? '(unknown)',
      },
      target: { type: 'audience', name: progress.audience ?? '(none)' },
      delegation_mode: progress.mode ?? 'on_behalf_of',
      scopes: granted,
      outcome,
      ...(reason ? { reason } : {}),
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      chain: progress.chain ?? [clientId],
      ...(progress.requested ? { scopes_requested: progress.requested } : {}),
      span_id: span.id,
      ...(span.parent ? { parent_span_id: span.parent } : {}),
    }),
  );
}

function tenantOf(claims: AccessTokenClaims): string | null {
  const raw = claims.claims;
  return typeof raw.tenant === 'string' ? raw.tenant : typeof raw.tid === 'string' ? raw.tid : null;
}

function sessionOf(claims: AccessTokenClaims, root: string): string {
  return typeof claims.claims.sid === 'string' ? claims.claims.sid : root;
}

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === '' ? undefined : value;
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined || value === '') return [];
  return Array.isArray(value) ? value : [value];
}
