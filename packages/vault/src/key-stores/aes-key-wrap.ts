import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { VaultError } from '../errors.ts';

/**
 * AES key wrap (RFC 3394, NIST SP 800-38F "KW") with a 256-bit KEK. Chosen over AES-GCM for wrapping
 * because it is deterministic and nonce-free: a long-lived KEK wraps millions of data keys over its life
 * (every put, every rewrap) and there is no random-nonce collision budget to track. Its 64-bit integrity
 * check rejects a modified wrapped key. It is also exactly what `CKM_AES_KEY_WRAP` computes inside a
 * PKCS#11 token, so both key stores produce the same 40-byte wrapped form.
 */
const ALGORITHM = 'id-aes256-wrap';
/** RFC 3394 §2.2.3.1 default initial value. */
const DEFAULT_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export function aesKeyWrap(kek: KeyObject, keyData: Uint8Array): Buffer {
  const cipher = createCipheriv(ALGORITHM, kek, DEFAULT_IV);
  return Buffer.concat([cipher.update(keyData), cipher.final()]);
}

export function aesKeyUnwrap(kek: KeyObject, wrapped: Uint8Array): Buffer {
  if (wrapped.length < 24 || wrapped.length % 8 !== 0) {
    throw new VaultError('ERR_VAULT_TAMPERED', 'wrapped data key has an impossible length for AES key wrap');
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, kek, DEFAULT_IV);
    return Buffer.concat([decipher.update(wrapped), decipher.final()]);
  } catch (error) {
    throw new VaultError('ERR_VAULT_TAMPERED', 'wrapped data key failed its AES key wrap integrity check', {
      cause: error,
    });
  }
}
