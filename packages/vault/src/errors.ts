import { BatonError, type VaultErrorCode } from '@baton/core';

/** Every reason the vault refuses, as a stable code (listed and explained in `@baton/core`). */
export type { VaultErrorCode } from '@baton/core';

/**
 * A refused vault operation. `message` is safe to log: it never contains plaintext, a data key, key
 * material, a PIN or a sealed record; at most an entry id, a key id, a file path or a PKCS#11 return
 * code name. Callers `switch (err.code)`.
 */
export class VaultError extends BatonError<VaultErrorCode> {
  override readonly name = 'VaultError';

  constructor(code: VaultErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
