/**
 * Every reason the vault refuses, as a stable code. Callers `switch (err.code)`; messages may change,
 * codes do not.
 *
 * - `ERR_VAULT_TAMPERED`: a record failed authentication (ciphertext, tag, nonce, wrapped data key,
 *   entry id, expiry or encoding changed). Never returns partial or garbage plaintext.
 * - `ERR_VAULT_WRONG_ENTRY`: an intact record sealed for a different entry id was found under this
 *   one (a swap or copy inside the store).
 * - `ERR_VAULT_RECORD_MALFORMED`: the stored bytes are not a vault record at all.
 * - `ERR_VAULT_RECORD_UNSUPPORTED`: a record of a format version this code does not read.
 * - `ERR_VAULT_KEY_UNAVAILABLE`: the key store cannot be used (key file missing or readable by others,
 *   HSM library, token, PIN or key object missing). The vault fails closed: nothing is read or written.
 * - `ERR_VAULT_KEY_UNKNOWN`: the record names a key-encryption key the key store does not hold
 *   (retired, or from another key store).
 * - `ERR_VAULT_KEY_IN_USE`: refusing to retire the current key-encryption key.
 * - `ERR_VAULT_STORE_FAILED`: the backing store (PostgreSQL, Redis) failed; see `cause`.
 */
export type VaultErrorCode =
  | 'ERR_VAULT_TAMPERED'
  | 'ERR_VAULT_WRONG_ENTRY'
  | 'ERR_VAULT_RECORD_MALFORMED'
  | 'ERR_VAULT_RECORD_UNSUPPORTED'
  | 'ERR_VAULT_KEY_UNAVAILABLE'
  | 'ERR_VAULT_KEY_UNKNOWN'
  | 'ERR_VAULT_KEY_IN_USE'
  | 'ERR_VAULT_STORE_FAILED';

/**
 * A refused vault operation. `message` is safe to log: it never contains plaintext, a data key, key
 * material, a PIN or a sealed record; at most an entry id, a key id, a file path or a PKCS#11 return
 * code name.
 */
export class VaultError extends Error {
  override readonly name = 'VaultError';
  readonly code: VaultErrorCode;

  constructor(code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
