import {
  ACCEPTED_INPUT_TOKEN_TYPES,
  ACCESS_TOKEN_TYPE,
  JWT_TOKEN_TYPE,
  TXN_TOKEN_TYPE,
} from '@baton/broker-client';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';

/** What the parameters check adds. */
export interface ExchangeParameters {
  readonly subjectToken: string;
  /** `requested_token_type`, default an access token. */
  readonly requestedType: string;
}

/**
 * Check (RFC 8693 §2.1): a subject token of a type the broker accepts, and a `requested_token_type`
 * it issues (a Transaction Token only when configured to).
 */
export function exchangeParameters(options: {
  transactionTokens: boolean;
}): Check<GrantRequest, ExchangeParameters> {
  return ({ params }) => {
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
    if (requestedType === TXN_TOKEN_TYPE && !options.transactionTokens) {
      throw refuse.request(
        'requested_token_type_unsupported',
        'this broker is not configured to issue Transaction Tokens',
      );
    }
    return { subjectToken, requestedType };
  };
}
