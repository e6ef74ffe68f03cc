import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import {
  type Envelope,
  EnvelopeError,
  type EnvelopeIssuer,
  localJwksResolver,
  verifyEnvelope,
} from '@baton/envelope';
import type { AudienceConfig } from '../../audience.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { requestedAudience, scopesOf, single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { TokenRegistry } from '../../registry/token-registry.ts';
import {
  refuseMissingPurpose,
  refuseOtherTrustDomain,
  type TxnTokenContext,
  txnTokenContextOf,
} from './txn-request.ts';

// Replacement Txn-Tokens (draft-ietf-oauth-transaction-tokens-10 §12, "Txn-Token as a subject_token"):
// a Txn-Token this broker issued, presented as the subject token, for another Txn-Token that may narrow
// (fewer scopes, fewer allowed services) and may add asserted values, but never widens or changes one,
// never changes `txn`, `sub` or `aud`, and is never issued for an expired token.

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
}

/**
 * Check: the presented Txn-Token is one this broker issued (its key, its issuer, its Trust Domain), not
 * expired — with no clock tolerance: draft-10 forbids replacing an expired one — and, by the registry,
 * not revoked (its own record, its ancestors, its subject, session and clients).
 */
export function replacedToken(
  envelopes: EnvelopeIssuer,
  registry: TokenRegistry,
): Check<GrantRequest & ReplacementParameters, ReplacedToken> {
  const keys = localJwksResolver(envelopes.jwks());
  return async ({ subjectToken, now, clientId }) => {
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
    const clients = [...new Set([clientId, replaced.agent.client_id, replaced.requesting_workload])];
    const status = await registry.status(replaced.id, now, clients);
    if (!status.active) {
      throw refuse.grant(
        status.reason === 'token_unknown' ? 'token_revoked' : status.reason,
        'subject_token is revoked',
      );
    }
    return { replaced, parent: replaced.id, root: status.token.root };
  };
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
 * `resource` one of its `tctx.allowed` (default: all of them); `request_details` / `request_context`
 * may add members but not change one the replaced token asserts — the broker cannot tell a narrower
 * value from a wider one, so any change is refused.
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
    return {
      audience,
      requested,
      allowed,
      // The union of two schema-checked objects: `mint` checks the result (size) once more.
      replacementContext: {
        ...merged('details', replaced.details, details),
        ...merged('requestContext', replaced.request_context, requestContext),
      } as TxnTokenContext,
    };
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
