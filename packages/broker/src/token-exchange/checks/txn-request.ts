import type { TokenRequestReason } from '@baton/audit';
import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import { DetailsSchema, RequestContextSchema } from '@baton/envelope';
import type { z } from 'zod';
import type { AudienceConfig } from '../../audience.ts';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { type Parameters, requestedAudience, single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { Target } from '../../grants/target.ts';
import type { ExchangeParameters } from './parameters.ts';

/** The Txn-Token request parameters of draft-ietf-oauth-transaction-tokens-10 §9.1 (RFC 8693 extensions). */
export const TXN_TOKEN_REQUEST_PARAMETERS = ['request_context', 'request_details'];

/** What a Txn-Token request adds: what the Txn-Token asserts beyond the subject (absent when not asked). */
export interface TxnTokenContext {
  /** `tctx.details`, from `request_details`. */
  readonly details?: z.infer<typeof DetailsSchema>;
  /** `rctx`, from `request_context`. */
  readonly requestContext?: z.infer<typeof RequestContextSchema>;
}

/**
 * Check, the target of an exchange: for a Txn-Token request (draft-10 §9.1), `audience` is the Trust
 * Domain (required, and only this broker's) and `resource` names the one service the transaction calls
 * (Baton's policy target and `tctx.allowed`); for any other request, the shared target check.
 */
export function exchangeTarget(
  audiences: readonly AudienceConfig[],
): Check<GrantRequest & ExchangeParameters, Target> {
  return ({ params, requestedType }) => {
    if (requestedType !== TXN_TOKEN_TYPE) return { audience: requestedAudience(params, audiences) };
    return { audience: requestedAudience({ resource: params.resource }, audiences) };
  };
}

/** Refuses a Txn-Token request whose `audience` is missing or is not this broker's Trust Domain. */
export function refuseOtherTrustDomain(params: Parameters, trustDomain: string): void {
  const audience = single(params.audience);
  if (audience !== trustDomain) {
    throw refuse.target(
      'txn_audience_not_trust_domain',
      'a Transaction Token request names this Trust Domain as its audience',
    );
  }
}

/**
 * Refuses a Txn-Token request without `scope`: draft-10 §9.1 requires the transaction's purpose, and a
 * Txn-Token never defaults to everything the subject token allows.
 */
export function refuseMissingPurpose(params: Parameters): void {
  if (single(params.scope) === undefined) {
    throw refuse.request('parameters_missing', 'a Transaction Token request names its purpose in scope');
  }
}

/**
 * Check, the Txn-Token request's own parameters (draft-10 §9.1, §9.3): `audience` is the Trust Domain;
 * `request_context` and `request_details`, when sent, are one JSON object each that the envelope schema
 * accepts (`invalid_request` otherwise); `scope` is required. The broker is authoritative for `rctx` and `tctx`: it asserts
 * what it accepted here, nothing else. Other requests pass untouched.
 */
export function txnTokenRequest(
  trustDomain: string | undefined,
): Check<GrantRequest & ExchangeParameters, TxnTokenContext> {
  return ({ params, requestedType }) => {
    if (requestedType !== TXN_TOKEN_TYPE || trustDomain === undefined) return {};
    refuseOtherTrustDomain(params, trustDomain);
    refuseMissingPurpose(params);
    return txnTokenContextOf(params);
  };
}

/** `request_details` and `request_context` of a request, checked; shared with replacement requests. */
export function txnTokenContextOf(params: Parameters): TxnTokenContext {
  const details = jsonParameter(
    params.request_details,
    'request_details',
    DetailsSchema,
    'request_details_invalid',
  );
  const requestContext = jsonParameter(
    params.request_context,
    'request_context',
    RequestContextSchema,
    'request_context_invalid',
  );
  return {
    ...(details === undefined ? {} : { details }),
    ...(requestContext === undefined ? {} : { requestContext }),
  };
}

function jsonParameter<T extends z.ZodType>(
  value: string | string[] | undefined,
  name: string,
  schema: T,
  reason: TokenRequestReason,
): z.infer<T> | undefined {
  if (value === undefined) return undefined;
  const text = single(value);
  if (text === undefined) throw refuse.request(reason, `${name} must be sent once, as a JSON object`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw refuse.request(reason, `${name} is not JSON`);
  }
  return acceptedObject(parsed, name, schema, reason);
}

/**
 * `parsed` when it is one JSON object `schema` accepts (members, size), refused with `reason`
 * (`invalid_request`) otherwise: a parameter as sent, or a replacement's merged members.
 */
export function acceptedObject<T extends z.ZodType>(
  parsed: unknown,
  name: string,
  schema: T,
  reason: TokenRequestReason,
): z.infer<T> {
  const checked = schema.safeParse(parsed);
  if (!checked.success || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    // The detail names the failing members, never their values (they are the client's).
    const detail = checked.success
      ? 'not an object'
      : checked.error.issues
          .slice(0, 5)
          .map((issue) => issue.path.map(String).join('.') || '(root)')
          .join(', ');
    throw refuse.request(reason, `${name} is not a JSON object this broker accepts`, detail);
  }
  return checked.data;
}
