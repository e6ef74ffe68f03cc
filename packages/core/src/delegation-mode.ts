/**
 * How a hop reaches the next service, the one vocabulary every package uses:
 *
 * - `service_identity`: the service calls as itself and carries the person in a signed envelope;
 * - `on_behalf_of`: an RFC 8693 token exchange, the person as subject and the chain in `act`;
 * - `restricted_user`: a narrowed token for the person alone (no `act`).
 *
 * A Transaction Token is a token kind, not a delegation mode: it carries the mode of the call it
 * was issued for.
 */
export const DELEGATION_MODES = ['service_identity', 'on_behalf_of', 'restricted_user'] as const;

export type DelegationMode = (typeof DELEGATION_MODES)[number];

/** Whether `value` is one of the delegation modes. */
export function isDelegationMode(value: unknown): value is DelegationMode {
  return value === 'service_identity' || value === 'on_behalf_of' || value === 'restricted_user';
}
