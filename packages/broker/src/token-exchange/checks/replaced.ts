import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import {
  DetailsSchema,
  type Envelope,
  EnvelopeError,
  type EnvelopeIssuer,
  localJwksResolver,
  verifyEnvelope,
} from '@baton/envelope';
import { sameResource } from '@baton/resource-server';
import type { AudienceConfig } from '../../audience.ts';
import type { Check } from '../../grants/checks.ts';
import { batonMetadataOf, type GrantRequest } from '../../grants/grant-request.ts';
import { requestedAudience, scopesOf, single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import {
  acceptedObject,
  refuseMissingPurpose,
  refuseOtherTrustDomain,
  type TxnTokenContext,
  txnTokenContextOf,
} from './txn-request.ts';

// Replacement Txn-Tokens (draft-ietf-oauth-transaction-tokens-10 §12, "Txn-Token as a subject_token"):
// a Txn-Token this broker issued, presented as the subject token by a client that may hold it, for
// another Txn-Token that may narrow (fewer scopes, fewer allowed services) and may add `tctx.details`
// members, but never widens or changes an asserted value, never adds to `rctx`, never changes `txn`,
// `sub` or `aud`, and is never issued for an expired token.

/** What the replacement parameters check adds. */
export interface ReplacementParameters extends TxnTokenContext {
  readonly subjectToken: string;
}

/**
 * Check: a Txn-Token is exchanged only for a replacement Txn-Token (a Txn-Token is neither an access
 * token nor a credential, draft-10 §12), for this Trust Domain, with well-formed
 * `request_context`/`request_details`, and its purpose in `scope`.
 */
export function replacementParameters(trustDomain: string): Check<GrantRequest, ReplacementParameters> {
  return ({ params }) => {
    const subjectToken = single(params.subject_token);
    if (!subjectToken) throw refuse.request('parameters_missing', 'subject_token is required');
    if (single(params.requested_token_type) !== TXN_TOKEN_TYPE) {
      throw refuse.request(
        'txn_token_not_exchangeable',
        `a Transaction Token is exchanged only for a replacement (requested_token_type ${TXN_TOKEN_TYPE})`,
      );
    }
    refuseOtherTrustDomain(params, trustDomain);
    refuseMissingPurpose(params);
    return { subjectToken, ...txnTokenContextOf(params) };
  };
}

/** What the replaced-token check adds. */
export interface ReplacedToken {
  /** The Txn-Token being replaced, verified. */
  readonly replaced: Envelope;
  readonly parent: string;
  readonly root: string;
  /** The identity provider's session the transaction started in (`sid`), when its record names one. */
  readonly session: string | undefined;
}

/**
 * Check: the presented Txn-Token is one this broker issued (its key, its issuer, its Trust Domain), not
 * expired — with no clock tolerance: draft-10 forbids replacing an expired one —, held by this client
 * (see `refuseNonHolder`) and, by the registry, not revoked (its own record, its ancestors, its
 * subject, session and clients).
 */
export function replacedToken(
  envelopes: EnvelopeIssuer,
  registry: TokenRegistry,
): Check<GrantRequest & ReplacementParameters, ReplacedToken> {
  const keys = localJwksResolver(envelopes.jwks());
  return async ({ subjectToken, now, clientId, client }) => {
    let replaced: Envelope;
    try {
      replaced = await verifyEnvelope(subjectToken, {
        issuer: envelopes.issuer,
        trustDomain: envelopes.trustDomain,
        keys,
        clockToleranceSeconds: 0,
        now: () => now,
      });
    } catch (error) {
      if (error instanceof EnvelopeError) {
        throw refuse.request(
          'txn_token_invalid',
          'subject_token is not a valid Transaction Token',
          error.code,
        );
      }
      throw error;
    }
    refuseNonHolder(replaced, clientId, batonMetadataOf(client).resources);
    const clients = [...new Set([clientId, replaced.agent.client_id, replaced.requesting_workload])];
    const status = await registry.status(replaced.id, now, clients);
    if (!status.active) {
      throw refuse.grant(
        status.reason === 'token_unknown' ? 'token_revoked' : status.reason,
        'subject_token is revoked',
      );
    }
    return { replaced, parent: replaced.id, root: status.token.root, session: status.token.session };
  };
}

/**
 * Refuses a replacement by a client that may not hold the Txn-Token, as `noLaundering` refuses a
 * subject token issued to someone else: only the workload it was issued to (`req_wl`) or a service it
 * was issued for (one of the client's `baton_resources` is in `tctx.allowed`) may replace it. Anyone
 * else merely saw it (in a log, a proxy) and must not get it re-signed under its own name.
 */
function refuseNonHolder(replaced: Envelope, clientId: string, ownResources: readonly string[]): void {
  if (replaced.requesting_workload === clientId) return;
  const issuedFor = replaced.delegation.allowed.some((service) =>
    ownResources.some((own) => sameResource(own, service)),
  );
  if (!issuedFor) {
    throw refuse.grant(
      'txn_replacement_not_holder',
      'subject_token was neither issued to nor for this client',
    );
  }
}

/** What the narrowing check adds: what the replacement asserts. */
export interface Replacement extends Target {
  /** The scopes asked for (the policy grants from these). */
  readonly requested: readonly string[];
  readonly allowed: readonly string[];
  readonly replacementContext: TxnTokenContext;
}

/**
 * Check, never wider (draft-10 §12): `scope` (required) a subset of the replaced token's;
 * `resource` one of its `tctx.allowed` (default: all of them); `request_details` may add members but
 * not change one the replaced token asserts — the broker cannot tell a narrower value from a wider one,
 * so any change is refused — and the merged members stay within the envelope's limits;
 * `request_context` may only repeat members: `rctx` describes the request that started the
 * transaction, which only its first requester saw.
 */
export function replacementNarrowing(
  audiences: readonly AudienceConfig[],
): Check<GrantRequest & ReplacementParameters & ReplacedToken, Replacement> {
  return ({ params, replaced, details, requestContext }) => {
    const requested = scopesOf(single(params.scope));
    const had = new Set(replaced.authorization.scopes);
    const wider = requested.filter((value) => !had.has(value));
    if (wider.length > 0) {
      throw refuse.scope(
        'scope_wider_than_subject',
        'requested scope exceeds the Transaction Token being replaced',
        wider.join(' '),
      );
    }
    const allowed =
      params.resource === undefined
        ? [...replaced.delegation.allowed]
        : [requestedAudience({ resource: params.resource }, audiences).resource];
    if (!allowed.every((resource) => replaced.delegation.allowed.includes(resource))) {
      throw refuse.target(
        'txn_replacement_wider',
        'the replacement may name only services the Transaction Token being replaced allows',
      );
    }
    const audience = audiences.find((candidate) => candidate.resource === allowed[0]);
    if (!audience) {
      throw refuse.target(
        'audience_unknown',
        'the requested audience is not one this broker issues tokens for',
      );
    }
    const added = Object.keys(requestContext ?? {}).filter(
      (member) => !Object.hasOwn(replaced.request_context ?? {}, member),
    );
    if (added.length > 0) {
      throw refuse.request(
        'txn_replacement_wider',
        'a replacement may not add request_context members: they are asserted when the transaction starts',
        added.map((member) => `requestContext.${member}`).join(', '),
      );
    }
    const replacementContext = {
      ...merged('details', replaced.details, details),
      ...merged('requestContext', replaced.request_context, requestContext),
    } as TxnTokenContext;
    // Each part was within the limit; their union may not be (a refusal, not a failure at `mint`).
    if (replacementContext.details !== undefined) {
      acceptedObject(replacementContext.details, 'request_details', DetailsSchema, 'request_details_invalid');
    }
    return { audience, requested, allowed, replacementContext };
  };
}

/** The replaced token's members plus the new ones; a changed member is refused. */
function merged<K extends keyof TxnTokenContext>(
  key: K,
  before: Readonly<Record<string, unknown>> | undefined,
  added: Readonly<Record<string, unknown>> | undefined,
): Partial<Record<K, Record<string, unknown>>> {
  if (before === undefined && added === undefined) return {};
  for (const [member, value] of Object.entries(added ?? {})) {
    if (before && Object.hasOwn(before, member) && JSON.stringify(before[member]) !== JSON.stringify(value)) {
      throw refuse.request(
        'txn_replacement_wider',
        'a replacement may add asserted values but not change those of the Transaction Token it replaces',
        `${key}.${member}`,
      );
    }
  }
  return { [key]: { ...before, ...added } } as Partial<Record<K, Record<string, unknown>>>;
}
