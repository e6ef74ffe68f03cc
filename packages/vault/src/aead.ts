import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { VaultError } from './errors.ts';
import { NONCE_BYTES, TAG_BYTES } from './record.ts';

/** AES-256-GCM: the data key is used for exactly one plaintext, so a random 96-bit nonce never repeats under it. */
const CIPHER = 'aes-256-gcm';

export interface Sealed {
  readonly iv: Buffer;
  readonly ct: Buffer;
  readonly tag: Buffer;
}

export function seal(dek: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  const iv = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(CIPHER, dek, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ct, tag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates in one step; any change to key, nonce, ciphertext, tag or associated data
 * throws `ERR_VAULT_TAMPERED` and nothing decrypted is returned. `authTagLength` pins the tag to 128
 * bits so a truncated tag cannot be accepted.
 */
export function open(
  dek: Uint8Array,
  sealed: Sealed | Readonly<Record<keyof Sealed, Uint8Array>>,
  aad: Uint8Array,
): Buffer {
  const decipher = createDecipheriv(CIPHER, dek, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  const plaintext = decipher.update(sealed.ct);
  try {
    decipher.final();
  } catch (error) {
    plaintext.fill(0);
    throw new VaultError('ERR_VAULT_TAMPERED', 'vault record failed authentication (AES-GCM tag mismatch)', {
      cause: error,
    });
  }
  return plaintext;
}
