import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'oidc-provider';

/** A fresh ES256 private signing key with `kid` = its RFC 7638 thumbprint. */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' } as JWK;
}

/**
 * The broker's signing keys, kept in an owner-only file shared by its instances: the first key signs,
 * the others keep verifying what they signed. A missing file is created with one new key.
 */
export async function loadSigningKeys(file: string): Promise<JWK[]> {
  try {
    const keys = JSON.parse(await readFile(file, 'utf8')) as { keys?: JWK[] };
    if (!Array.isArray(keys.keys) || keys.keys.length === 0 || keys.keys.some((key) => !key.d || !key.kid)) {
      throw new Error(`${file} must hold { "keys": [private JWKs with kid] }`);
    }
    return keys.keys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const keys = [await generateSigningJwk()];
    await writeKeys(file, keys);
    return keys;
  }
}

/**
 * Rotation: a new key becomes the signer; the previous ones stay (up to `keep`) so tokens they
 * signed keep verifying until they expire. Restart instances one by one after rotating.
 */
export async function rotateSigningKeys(file: string, keep = 2): Promise<JWK[]> {
  const current = await loadSigningKeys(file);
  const keys = [await generateSigningJwk(), ...current].slice(0, keep + 1);
  await writeKeys(file, keys);
  return keys;
}

async function writeKeys(file: string, keys: JWK[]): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}
