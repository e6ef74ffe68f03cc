/**
 * Where sealed records live. A store sees only opaque record strings (ciphertext, wrapped data keys,
 * ids, expiries), never plaintext or a usable key, so it can be any database.
 *
 * Contract, checked by the conformance suite in test/:
 * - `put` creates or replaces; the entry is gone (to `get`, `list`) once `expiresAt` (ms since the
 *   epoch) has passed.
 * - `get` returns exactly the string `put` stored, or `undefined` if absent or expired.
 * - `replace` is a compare-and-set: it writes `next` only if the current record is exactly `expected`,
 *   keeping the expiry. Re-wrapping uses it so it never overwrites a newer `put` with an older token.
 * - `list` yields every unexpired id, for re-wrapping after rotation.
 */
export interface VaultStore {
  put(id: string, record: string, expiresAt: number): Promise<void>;
  get(id: string): Promise<string | undefined>;
  delete(id: string): Promise<boolean>;
  replace(id: string, expected: string, next: string): Promise<boolean>;
  list(): AsyncIterable<string>;
  close?(): Promise<void>;
}

export function assertVaultStore(value: unknown): asserts value is VaultStore {
  const store = value as Partial<VaultStore> | null;
  const methods = ['put', 'get', 'delete', 'replace', 'list'] as const;
  if (
    typeof store !== 'object' ||
    store === null ||
    methods.some((name) => typeof store[name] !== 'function')
  ) {
    throw new TypeError(`store must implement VaultStore { ${methods.join(', ')} }`);
  }
}
