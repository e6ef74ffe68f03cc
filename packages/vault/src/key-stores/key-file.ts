import { randomBytes } from 'node:crypto';
import { createSecretFile, readSecretFile, withFileLock, writeSecretFile } from '@baton/core/node';
import { VaultError } from '../errors.ts';

/**
 * The on-disk key file: a JSON document holding one or more 32-byte KEKs, base64url, each with an id.
 * The first key is current; the others are kept so entries wrapped under them still unwrap.
 *
 * ```json
 * { "format": "baton-vault-keys/v1", "keys": [{ "id": "kek-…", "key": "<base64url>", "createdAt": "…" }] }
 * ```
 */
export const KEY_FILE_FORMAT = 'baton-vault-keys/v1';

export interface KeyFileEntry {
  readonly id: string;
  /** 32 raw bytes. */
  readonly key: Buffer;
  readonly createdAt: string;
}

/** What a KEK id in the file may look like. */
export const KEY_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const KEK_BYTES = 32;

const unavailable = (message: string, cause?: unknown) =>
  new VaultError('ERR_VAULT_KEY_UNAVAILABLE', message, cause === undefined ? undefined : { cause });

/** A fresh KEK id: random, so two processes rotating at once never mint the same one. */
export function newKeyId(): string {
  return `kek-${randomBytes(9).toString('base64url')}`;
}

export function newKeyEntry(): KeyFileEntry {
  return { id: newKeyId(), key: randomBytes(KEK_BYTES), createdAt: new Date().toISOString() };
}

function serialize(keys: readonly KeyFileEntry[]): string {
  const body = {
    format: KEY_FILE_FORMAT,
    keys: keys.map((entry) => ({
      id: entry.id,
      key: entry.key.toString('base64url'),
      createdAt: entry.createdAt,
    })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Validates the document; messages name the problem, never the content. */
function parse(text: string, path: string): KeyFileEntry[] {
  const invalid = (what: string) => unavailable(`key file ${path} is not a valid vault key file: ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const doc = value as { format?: unknown; keys?: unknown } | null;
  if (typeof doc !== 'object' || doc === null || doc.format !== KEY_FILE_FORMAT) {
    throw invalid(`"format" must be "${KEY_FILE_FORMAT}"`);
  }
  if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw invalid('"keys" must be a non-empty array');
  const seen = new Set<string>();
  return doc.keys.map((raw: unknown, index: number) => {
    const item = raw as { id?: unknown; key?: unknown; createdAt?: unknown } | null;
    if (typeof item !== 'object' || item === null) throw invalid(`keys[${index}] is not an object`);
    if (typeof item.id !== 'string' || !KEY_ID.test(item.id))
      throw invalid(`keys[${index}].id must match ${KEY_ID}`);
    if (seen.has(item.id)) throw invalid(`key id ${item.id} appears twice`);
    seen.add(item.id);
    const key = typeof item.key === 'string' ? Buffer.from(item.key, 'base64url') : undefined;
    if (key === undefined || key.length !== KEK_BYTES || key.toString('base64url') !== item.key) {
      throw invalid(`keys[${index}].key must be ${KEK_BYTES} bytes of base64url`);
    }
    return { id: item.id, key, createdAt: typeof item.createdAt === 'string' ? item.createdAt : '' };
  });
}

/**
 * Reads the key file, refusing one that group or others can read or write (any of mode 0o077), like
 * ssh does for private keys: a KEK others can read protects nothing, and one others can write could be
 * swapped for theirs. The mode is checked on the opened descriptor, so a file swapped between check and
 * read is not an issue.
 */
export async function readKeyFile(path: string): Promise<KeyFileEntry[]> {
  return (await readKeyFileVersion(path)).entries;
}

/**
 * Which version of the key file was read: inode (an atomic replace is a new inode), size and
 * timestamps. Compared against a fresh `stat` of the path to notice a rotation made elsewhere.
 */
export interface KeyFileVersion {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export function keyFileVersionOf(stats: KeyFileVersion): KeyFileVersion {
  return { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs };
}

export function sameKeyFileVersion(a: KeyFileVersion | undefined, b: KeyFileVersion): boolean {
  return (
    a !== undefined &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs
  );
}

const fileOptions = { label: 'key file', error: unavailable } as const;

/** `readKeyFile`, plus the version of the file it read (from the same open descriptor). */
export async function readKeyFileVersion(
  path: string,
): Promise<{ entries: KeyFileEntry[]; version: KeyFileVersion }> {
  // Followed through a link (a mounted secret volume is links); the mode is checked on the target.
  const { text, stats } = await readSecretFile(path, { ...fileOptions, followLinks: true });
  return { entries: parse(text, path), version: keyFileVersionOf(stats) };
}

const writeFailure = (path: string, what: string, error: unknown) =>
  unavailable(
    `key file ${path} cannot be ${what} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    error,
  );

/**
 * Creates the key file with one fresh KEK unless it already exists. `link` publishes the complete file
 * atomically and fails if another process won the race, in which case theirs is read instead.
 */
export async function createKeyFile(path: string): Promise<KeyFileEntry[]> {
  await createSecretFile(path, serialize([newKeyEntry()])).catch((error: unknown) => {
    throw writeFailure(path, 'created', error);
  });
  return readKeyFile(path);
}

/** Replaces the key file atomically (write, fsync, rename, directory fsync): a crash leaves the old or the new file, never half. */
export async function replaceKeyFile(path: string, keys: readonly KeyFileEntry[]): Promise<void> {
  await writeSecretFile(path, serialize(keys)).catch((error: unknown) => {
    throw writeFailure(path, 'written', error);
  });
}

/**
 * Runs a read-modify-write of the key file under `<path>.lock` (created with O_EXCL), so two processes
 * rotating at once cannot each write a file without the other's new key and lose it. A lock left by a
 * crashed process is not broken automatically: the message says which file to remove.
 */
export function withKeyFileLock<T>(path: string, waitMs: number, run: () => Promise<T>): Promise<T> {
  return withFileLock(path, waitMs, run, fileOptions);
}
