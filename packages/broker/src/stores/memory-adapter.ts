import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

/** Models that hold credentials derived from a grant, and so die with it (mirrors oidc-provider's own list). */
const GRANT_BOUND_MODELS = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

interface Entry {
  payload: AdapterPayload;
  /** Epoch milliseconds; `undefined` means the model did not ask for an expiry. */
  expiresAt: number | undefined;
}

/**
 * Storage for one provider instance (the broker's embedded store, the demo IdP): sessions,
 * interactions, grants, codes, tokens, registered clients and replay-detection entries.
 *
 * oidc-provider ships a module-global in-memory adapter, but it prints a "development only" warning and
 * shares its store between every Provider in the process. Tests start many IdPs side by side, so each
 * gets its own Map here, and nothing prints. Lookups other than by id scan the Map: a demo holds a handful
 * of entries, and the simplicity is worth more than an index.
 */
export function createMemoryAdapterFactory(): AdapterFactory {
  const store = new Map<string, Entry>();
  const now = () => Date.now();
  const isLive = (entry: Entry) => entry.expiresAt === undefined || entry.expiresAt > now();

  // Sweeping is O(entries), so it runs at most once a second rather than on every write: a broker
  // stores one replay-detection entry per client assertion, thousands a second.
  let lastSweep = 0;
  function sweepExpired(): void {
    const current = now();
    if (current - lastSweep < 1000) return;
    lastSweep = current;
    for (const [key, entry] of store) {
      if (!isLive(entry)) store.delete(key);
    }
  }

  return (model: string): Adapter => {
    const keyFor = (id: string) => `${model}:${id}`;
    const live = (key: string) => {
      const entry = store.get(key);
      return entry && isLive(entry) ? entry : undefined;
    };
    const findWhere = (matches: (payload: AdapterPayload) => boolean) => {
      for (const [key, entry] of store) {
        if (key.startsWith(`${model}:`) && isLive(entry) && matches(entry.payload)) return entry.payload;
      }
      return undefined;
    };

    return {
      async upsert(id, payload, expiresIn) {
        sweepExpired();
        const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : undefined;
        store.set(keyFor(id), { payload, expiresAt });
      },
      async find(id) {
        return live(keyFor(id))?.payload;
      },
      async findByUid(uid) {
        return findWhere((payload) => payload.uid === uid);
      },
      async findByUserCode(userCode) {
        return findWhere((payload) => payload.userCode === userCode);
      },
      async consume(id) {
        const entry = live(keyFor(id));
        if (entry) entry.payload.consumed = Math.floor(now() / 1000);
      },
      async destroy(id) {
        store.delete(keyFor(id));
      },
      async revokeByGrantId(grantId) {
        // Every model shares the store, so this removes the grant's codes and tokens of every kind at once.
        for (const [key, entry] of store) {
          const kind = key.slice(0, key.indexOf(':'));
          if (GRANT_BOUND_MODELS.has(kind) && entry.payload.grantId === grantId) store.delete(key);
        }
      },
    };
  };
}
