import { TXN_TOKEN_TYPE } from '@baton/broker-client';
import type { DelegationMode } from '@baton/core';
import type { Check } from '../../grants/checks.ts';
import type { GrantRequest } from '../../grants/grant-request.ts';
import { single } from '../../grants/parameters.ts';
import { refuse } from '../../grants/refusal.ts';
import type { IssuedTokenKind } from '../../policy/facts.ts';
import type { ExchangeParameters } from './parameters.ts';

/** What the mode check adds. */
export interface ExchangeMode {
  readonly mode: DelegationMode;
  /** A Transaction Token is a token kind, not a mode: it is presented beside the service's own token. */
  readonly tokenKind: IssuedTokenKind;
}

/**
 * Check: the delegation mode, Baton's `delegation_mode` extension (default `on_behalf_of`); a
 * Transaction Token request is `service_identity` with token kind `txn_token` (`delegation_mode` does
 * not apply to it).
 */
export const delegationMode: Check<GrantRequest & ExchangeParameters, ExchangeMode> = ({
  params,
  requestedType,
}) => {
  if (requestedType === TXN_TOKEN_TYPE) return { mode: 'service_identity', tokenKind: 'txn_token' };
  const mode = single(params.delegation_mode) ?? 'on_behalf_of';
  if (mode !== 'on_behalf_of' && mode !== 'restricted_user') {
    throw refuse.request(
      'delegation_mode_unknown',
      'delegation_mode must be on_behalf_of or restricted_user',
    );
  }
  return { mode, tokenKind: 'access_token' };
};
