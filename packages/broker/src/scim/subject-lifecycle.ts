/**
 * What the SCIM service asks of the broker's revocation model. The broker's own `revoke`/`lift`
 * (targets `{subject, before?}` and `{subject}`) fit as they are; the SCIM service needs nothing else.
 *
 * - a disabled or deleted SCIM user: `revoke({ subject })` — every token of the person, and every new
 *   exchange, refused until lifted (RISC `account-disabled`);
 * - a SCIM user active again: `lift({ subject })` (RISC `account-enabled`);
 * - a person removed from a group: `revoke({ subject, before: now })` — the tokens carrying the old
 *   group's scopes stop, new ones come from the identity provider with the new claims (CAEP
 *   `token-claims-change`).
 *
 * @example
 * startBroker({ …, scim: { …, lifecycle: { revoke: (t, c) => broker.revoke(t, c), lift: (t, c) => broker.lift(t, c) } } });
 */
export interface SubjectLifecycle {
  revoke(target: SubjectRevocation, context: LifecycleContext): Promise<unknown>;
  lift(target: { subject: string }, context: LifecycleContext): Promise<unknown>;
}

/** A person's tokens: all of them until lifted (no `before`), or those issued before `before` (Unix seconds). */
export type SubjectRevocation = { subject: string; before?: number };

/** Who asked and why, for the audit record of the revocation. */
export interface LifecycleContext {
  /** The SCIM client (an operator-approved OAuth client of the broker). */
  actor: string;
  reason: ScimLifecycleReason;
}

export type ScimLifecycleReason =
  | 'scim_user_deactivated'
  | 'scim_user_reactivated'
  | 'scim_user_deleted'
  | 'scim_group_membership_removed';
