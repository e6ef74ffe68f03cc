import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import { tenantOf } from '@baton/core';
import type { EnvelopeIssuer } from '@baton/envelope';
import type { CallerKindRule } from '@baton/resource-server';
import type { AudienceConfig } from '../audience.ts';
import { type AuditedGrantDependencies, auditedGrant, type Issued } from '../grants/audited-grant.ts';
import { GrantChecks } from '../grants/checks.ts';
import type { GrantRequest } from '../grants/grant-request.ts';
import { single } from '../grants/parameters.ts';
import { type PolicyEngine, policyModeOf } from '../policy/facts.ts';
import type { TokenRegistry } from '../registry/token-registry.ts';
import { refuseUnboundToBoundClient, senderConstraint } from '../sender-constraint/check.ts';
import { actingParty } from './checks/actor.ts';
import { delegationChain } from './checks/chain.ts';
import { exchangingClient } from './checks/client.ts';
import { noLaundering } from './checks/laundering.ts';
import { exchangeLifetime } from './checks/lifetime.ts';
import { delegationMode } from './checks/mode.ts';
import { exchangeParameters } from './checks/parameters.ts';
import { exchangePolicy } from './checks/policy.ts';
import { principal } from './checks/principal.ts';
import {
  clientRateLimit,
  type ExchangeRateLimiters,
  type ExchangeRateLimits,
  exchangeRateLimiters,
  subjectRateLimit,
} from './checks/rate-limit.ts';
import { requestedScopes, scopeNarrowing } from './checks/scope.ts';
import { subjectGrant, subjectToken } from './checks/subject.ts';
import {
  exchangeTarget,
  TXN_TOKEN_REQUEST_PARAMETERS,
  type TxnTokenContext,
  txnTokenRequest,
} from './checks/txn-request.ts';
import { visitingHop } from './checks/visitor.ts';
import type { Exchanged } from './exchanged.ts';
import type { InputTokenVerifier } from './input-token.ts';
import { accessTokenIssuer } from './issuers/access-token.ts';
import { issuePlatformToken } from './issuers/platform-token.ts';
import { txnTokenIssuer } from './issuers/txn-token.ts';
import { txnTokenReplacementHandler } from './replacement.ts';

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
  ...TXN_TOKEN_REQUEST_PARAMETERS,
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
  /**
   * The home domains' issuers (identity chaining, `identityChaining.homeDomains`): a subject named as
   * their visitor is gated as one on every later hop (`context.grant == "identity_chaining"`).
   */
  homes: readonly string[];
  envelopes?: EnvelopeIssuer;
  /** Upper bound on any issued token's lifetime, seconds. */
  maxLifetimeSeconds: number;
  /** Rate limits (issue #12 item 6): exchanges per client and per subject. */
  rateLimits?: ExchangeRateLimits;
  /** The limiters, when the broker built them once to share with another grant; else from `rateLimits`. */
  limiters?: ExchangeRateLimiters;
}

/**
 * The RFC 8693 token-exchange grant, registered on oidc-provider (which has already authenticated the
 * client and checked that it may use this grant type): its checks in order, each in its own file under
 * `checks/`, then one issuer per kind of token under `issuers/`.
 */
export function tokenExchangeHandler(deps: TokenExchangeDependencies) {
  const limiters = deps.limiters ?? exchangeRateLimiters(deps.rateLimits ?? {}, deps.logger);
  const checks = GrantChecks.start<GrantRequest>()
    .check(exchangingClient)
    .check(clientRateLimit(limiters.perClient))
    .check(senderConstraint)
    .check(exchangeParameters({ transactionTokens: deps.envelopes !== undefined }))
    .check(exchangeTarget(deps.audiences))
    .check(txnTokenRequest(deps.envelopes?.trustDomain))
    .check(delegationMode)
    // Only the broker's own access tokens carry `cnf`: before any other work, a client registered for
    // bound tokens is refused a kind that would reach it as a bearer token.
    .check((state) => {
      if (issuedKind(state) !== 'access_token') refuseUnboundToBoundClient(state.client);
      return {};
    })
    .check(subjectToken(deps.inputs))
    .check(subjectRateLimit(limiters.perSubject))
    .check(subjectGrant(deps.registry))
    .check(actingParty(deps.inputs, deps.registry))
    .check(noLaundering(deps.issuer))
    .check(delegationChain(deps.callerKind))
    .check(principal(deps.callerKind))
    .check(requestedScopes)
    .check(scopeNarrowing)
    .check(visitingHop(deps.homes))
    .check(exchangePolicy(deps.policy))
    .check(exchangeLifetime(deps.maxLifetimeSeconds));

  const issueAccessToken = accessTokenIssuer(deps.registry);
  const issueTxnToken = deps.envelopes ? txnTokenIssuer(deps.envelopes, deps.registry) : undefined;
  const issue = (state: Exchanged & TxnTokenContext): Promise<Issued> => {
    switch (issuedKind(state)) {
      // A foreign domain's authorization server: a JWT authorization grant (identity chaining).
      case 'authorization_grant':
        return state.audience.foreignDomain!.issue(state);
      case 'platform_token':
        return issuePlatformToken(state.audience.platform!, state);
      // The parameters check refuses a Transaction Token when the broker has no envelope issuer.
      case 'txn_token':
        return issueTxnToken!(state);
      case 'access_token':
        return issueAccessToken(state);
    }
  };

  const exchange = auditedGrant(deps, {
    checks,
    issue,
    describe: (known) => ({
      initiator: {
        sub: known.subject?.claims.subject ?? '(unverified)',
        tenant: known.subject ? tenantOf(known.subject.claims) : null,
      },
      agent: known.agent ?? known.subject?.claims.clientId ?? '(unknown)',
      audience: known.audience?.resource,
      // As the policy and the audit name it (`txn_token` for a Transaction Token).
      mode: known.mode
        ? policyModeOf({ mode: known.mode, tokenKind: known.tokenKind ?? 'access_token' })
        : 'on_behalf_of',
      chain: known.actors ?? [known.clientId],
      requested: known.requested,
      workload: known.workload,
    }),
  });
  // A Txn-Token as the subject token asks for a replacement Txn-Token (draft-10 §12): its own checks.
  const replace = deps.envelopes
    ? txnTokenReplacementHandler({ ...deps, envelopes: deps.envelopes, perClient: limiters.perClient })
    : undefined;
  return (ctx: Parameters<typeof exchange>[0]) =>
    replace &&
    single((ctx.oidc.params as Record<string, string | string[]>).subject_token_type) === TXN_TOKEN_TYPE
      ? replace(ctx)
      : exchange(ctx);
}

/** Which kind of token an exchange issues, and so which issuer serves it. */
function issuedKind(
  state: Pick<Exchanged, 'audience' | 'mode' | 'tokenKind'>,
): 'authorization_grant' | 'platform_token' | 'txn_token' | 'access_token' {
  if (state.audience.foreignDomain) return 'authorization_grant';
  if (state.audience.platform && state.mode === 'on_behalf_of') return 'platform_token';
  return state.tokenKind;
}
