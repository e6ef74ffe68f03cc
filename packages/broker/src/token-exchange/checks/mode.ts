import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { IssuanceMode } from '../../policy/facts.ts';
import type { ExchangeParameters } from './parameters.ts';

/** What the mode check adds. */
export interface ExchangeMode {
  readonly mode: Extract<IssuanceMode, 'on_behalf_of' | 'restricted_user' | 'txn_token'>;
}

/**
 * Check: the delegation mode, Baton's `delegation_mode` extension (default `on_behalf_of`), or
 * `txn_token` when a Transaction Token is requested.
 */
export const delegationMode: Check<GrantRequest & ExchangeParameters, ExchangeMode> = ({
  params,
  requestedType,
}) => {
  const mode =
    requestedType === TXN_TOKEN_TYPE ? 'txn_token' : (single(params.delegation_mode) ?? 'on_behalf_of');
  if (mode !== 'on_behalf_of' && mode !== 'restricted_user' && mode !== 'txn_token') {
    throw refuse.request(
      'delegation_mode_unknown',
      'delegation_mode must be on_behalf_of or restricted_user',
    );
  }
  return { mode };
};
