import {
  createSecretFile,
  isMissingSecretFile,
  readSecretFile,
  withFileLock,
  writeSecretFile,
} from '@baton/core/node';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { JWK } from 'oidc-provider';

/** A fresh ES256 private signing key with `kid` = its RFC 7638 thumbprint. */
export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' } as JWK;
}

const LABEL = 'signing-key file';
/** How long a rotation waits for another one to finish with the file. */
const LOCK_WAIT_MS = 5000;

/**
 * The broker's signing keys, kept in an owner-only file shared by its instances: the first key signs,
 * the others keep verifying what they signed. A missing file is created with one new key; instances
 * starting together agree on one of them (the file is published with `link`, so only one wins). A file
 * group or others can read or write is refused (`chmod 600` it), and so is one that is not a JSON
 * object of private JWKs with `kid`; the error never quotes the file, since it holds private keys.
 */
export async function loadSigningKeys(file: string): Promise<JWK[]> {
  try {
    return await readKeys(file);
  } catch (error) {
    if (!isMissingSecretFile(error)) throw error;
  }
  // Instances starting together: one creates the file, the others read the winner's.
  await createSecretFile(file, serialize([await generateSigningJwk()])).catch((error: unknown) => {
    throw writeFailure(file, error);
  });
  return readKeys(file);
}

/**
 * Rotation: a new key becomes the signer; the previous ones stay (up to `keep`) so tokens they
 * signed keep verifying until they expire. Restart instances one by one after rotating. Two rotations
 * at once take turns (`<file>.lock`), so neither loses the other's new key.
 */
export async function rotateSigningKeys(file: string, keep = 2): Promise<JWK[]> {
  await loadSigningKeys(file);
  return withFileLock(
    file,
    LOCK_WAIT_MS,
    async () => {
      const keys = [await generateSigningJwk(), ...(await readKeys(file))].slice(0, keep + 1);
      await writeSecretFile(file, serialize(keys)).catch((error: unknown) => {
        throw writeFailure(file, error);
      });
      return keys;
    },
    { label: LABEL },
  );
}

async function readKeys(file: string): Promise<JWK[]> {
  // Followed through a link like a mounted secret; the mode is checked on what it points to.
  const { text } = await readSecretFile(file, { label: LABEL, followLinks: true });
  const invalid = () => new Error(`${LABEL} ${file} must hold { "keys": [private JWKs with kid] }`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: private key material. Never passed on.
    throw invalid();
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (
    !Array.isArray(keys) ||
    keys.length === 0 ||
    keys.some((key) => typeof key !== 'object' || key === null || !key.d || typeof key.kid !== 'string')
  ) {
    throw invalid();
  }
  return keys as JWK[];
}

function serialize(keys: readonly JWK[]): string {
  return `${JSON.stringify({ keys }, null, 2)}\n`;
}

function writeFailure(file: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  return new Error(`${LABEL} ${file} cannot be written (${code})`, { cause });
}
