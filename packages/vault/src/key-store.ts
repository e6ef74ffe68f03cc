/** Data keys are AES-256 keys: 32 bytes, fresh from `randomBytes` for every entry. */
export const DEK_BYTES = 32;

/** A data key wrapped under one key-encryption key, and which one. */
export interface WrappedKey {
  readonly kekId: string;
  readonly wrapped: Uint8Array;
}

/**
 * Where key-encryption keys (KEKs) live: never in the vault's database. The vault hands a key store only
 * data keys; the KEKs never leave it (a file store holds them in process memory, a PKCS#11 store inside
 * the token).
 *
 * Contract, relied on by the vault:
 * - `wrap` uses the current KEK and says which one it used.
 * - `unwrap` uses the KEK named in the record, current or not, so entries survive rotation.
 * - Failures throw `VaultError`: `ERR_VAULT_KEY_UNKNOWN` for a KEK id it does not hold,
 *   `ERR_VAULT_TAMPERED` for a wrapped key that fails its integrity check, and
 *   `ERR_VAULT_KEY_UNAVAILABLE` when the store itself cannot be used. Never a fallback.
 */
export interface KeyStore {
  /** The KEK id new entries are wrapped under. */
  readonly currentKeyId: string;
  wrap(dek: Uint8Array): Promise<WrappedKey>;
  unwrap(kekId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /** Makes a new KEK current, keeping the old ones for unwrapping. Returns the new KEK id. */
  rotate?(): Promise<string>;
  /** Destroys a non-current KEK. Entries still wrapped under it become unreadable: rewrap first. */
  retire?(kekId: string): Promise<void>;
  /** Re-reads which KEKs exist and which is current, picking up a rotation made by another process. */
  reload?(): Promise<void>;
  close?(): Promise<void>;
}

/** Construction-time check that an object really is a key store, so misuse fails as a TypeError. */
export function assertKeyStore(value: unknown): asserts value is KeyStore {
  const store = value as Partial<KeyStore> | null;
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.wrap !== 'function' ||
    typeof store.unwrap !== 'function' ||
    typeof store.currentKeyId !== 'string'
  ) {
    throw new TypeError(
      'keyStore must implement KeyStore { currentKeyId, wrap(dek), unwrap(kekId, wrapped) }',
    );
  }
}
