import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A person who can sign in at the demo IdP. The demo keeps users in memory with plain-text passwords
 * because they are fixtures, printed in docs and typed into forms by hand; nothing here is a real secret.
 */
export interface DemoUser {
  /** Stable subject identifier: becomes the `sub` claim of every token issued for this user. */
  sub: string;
  username: string;
  password: string;
  name: string;
  email: string;
  /** Organisation the user belongs to; carried in access tokens as `tenant`. */
  tenant: string;
  /** Coarse application roles; carried in access tokens as `roles`. */
  roles: string[];
  /** The most a user may ever be granted: requested scopes outside this list are dropped at consent. */
  allowedScopes: string[];
}

/** The two demo personas: alice may do everything the order system offers; bob may look (orders and invoices), not order. */
export const DEMO_USERS: { alice: DemoUser; bob: DemoUser } = {
  alice: {
    sub: 'user-alice',
    username: 'alice',
    password: 'alice-demo-pw',
    name: 'Alice Example',
    email: 'alice@acme.example',
    tenant: 'acme',
    roles: ['buyer', 'orders-admin'],
    allowedScopes: ['orders:read', 'orders:write', 'billing:read'],
  },
  bob: {
    sub: 'user-bob',
    username: 'bob',
    password: 'bob-demo-pw',
    name: 'Bob Example',
    email: 'bob@acme.example',
    tenant: 'acme',
    roles: ['viewer'],
    allowedScopes: ['orders:read', 'billing:read'],
  },
};

/**
 * The demo's auditor: she may read acme's audit trail in the audit console (`audit:read`, granted only
 * for the console's resource) and nothing else. No other demo user may receive `audit:read`. Kept apart
 * from {@link DEMO_USERS}, which tests iterate as the people who use the order system.
 */
export const DEMO_AUDITOR: DemoUser = {
  sub: 'user-erin',
  username: 'erin',
  password: 'erin-demo-pw',
  name: 'Erin Example',
  email: 'erin@acme.example',
  tenant: 'acme',
  roles: ['auditor'],
  allowedScopes: ['audit:read'],
};

/**
 * Lookups the provider needs: by username at the login form, by `sub` whenever a token is minted. A
 * disabled user is found by neither: they cannot sign in, consent, or have a token minted or refreshed.
 */
export interface UserDirectory {
  findBySub(sub: string): DemoUser | undefined;
  /** Returns the user only when the password matches; the comparison does not leak timing. */
  authenticate(username: string, password: string): DemoUser | undefined;
  /** Whether `sub` is a user here (disabled or not). */
  has(sub: string): boolean;
  /** Disables a user; false when already disabled. */
  disable(sub: string): boolean;
  /** Enables a disabled user again; false when not disabled. */
  enable(sub: string): boolean;
}

export function createUserDirectory(users: readonly DemoUser[]): UserDirectory {
  const bySub = new Map(users.map((user) => [user.sub, user]));
  const byUsername = new Map(users.map((user) => [user.username, user]));
  const disabled = new Set<string>();
  return {
    findBySub: (sub) => (disabled.has(sub) ? undefined : bySub.get(sub)),
    authenticate(username, password) {
      const user = byUsername.get(username);
      // Compare digests so that unequal lengths take the same path as unequal contents.
      const expected = digest(user?.password ?? '');
      const matches = timingSafeEqual(expected, digest(password));
      return user && matches && !disabled.has(user.sub) ? user : undefined;
    },
    has: (sub) => bySub.has(sub),
    disable: (sub) => !disabled.has(sub) && disabled.add(sub) !== undefined,
    enable: (sub) => disabled.delete(sub),
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
