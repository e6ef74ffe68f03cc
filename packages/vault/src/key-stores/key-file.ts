import { randomBytes } from 'node:crypto';
import { constants, type FileHandle, link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** `readKeyFile`, plus the version of the file it read (from the same open descriptor). */
export async function readKeyFileVersion(
  path: string,
): Promise<{ entries: KeyFileEntry[]; version: KeyFileVersion }> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw unavailable(`key file ${path} does not exist`, error);
    throw unavailable(`key file ${path} cannot be opened (${code ?? 'error'})`, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw unavailable(`key file ${path} is not a regular file`);
    const mode = stats.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw unavailable(
        `key file ${path} has mode ${mode.toString(8).padStart(4, '0')}: it must not be readable or writable by group or others; run: chmod 600 ${path}`,
      );
    }
    return { entries: parse(await handle.readFile('utf8'), path), version: keyFileVersionOf(stats) };
  } catch (error) {
    if (error instanceof VaultError) throw error;
    throw unavailable(
      `key file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      error,
    );
  } finally {
    await handle.close();
  }
}

/** Writes a complete file next to `path` with mode 0600, flushed to disk, and returns its name. */
async function writeTemp(path: string, keys: readonly KeyFileEntry[]): Promise<string> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  // O_EXCL: never write key material into a file someone else created first. The mode is applied at
  // creation (umask can only remove bits) and again explicitly.
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(serialize(keys), 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  return temp;
}

/**
 * Creates the key file with one fresh KEK unless it already exists. `link` publishes the complete file
 * atomically and fails if another process won the race, in which case theirs is read instead.
 */
export async function createKeyFile(path: string): Promise<KeyFileEntry[]> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temp = await writeTemp(path, [newKeyEntry()]);
    try {
      await link(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temp).catch(() => {});
    }
  } catch (error) {
    if (error instanceof VaultError) throw error;
    throw unavailable(
      `key file ${path} cannot be created (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      error,
    );
  }
  return readKeyFile(path);
}

/** Replaces the key file atomically (write, fsync, rename): a crash leaves the old or the new file, never half. */
export async function replaceKeyFile(path: string, keys: readonly KeyFileEntry[]): Promise<void> {
  try {
    const temp = await writeTemp(path, keys);
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  } catch (error) {
    throw unavailable(
      `key file ${path} cannot be written (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      error,
    );
  }
}

/**
 * Runs a read-modify-write of the key file under `<path>.lock` (created with O_EXCL), so two processes
 * rotating at once cannot each write a file without the other's new key and lose it. A lock left by a
 * crashed process is not broken automatically: the message says which file to remove.
 */
export async function withKeyFileLock<T>(path: string, waitMs: number, run: () => Promise<T>): Promise<T> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  let lock: FileHandle | undefined;
  while (lock === undefined) {
    try {
      lock = await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST')
        throw unavailable(`key file lock ${lockPath} cannot be created (${code ?? 'error'})`, error);
      if (Date.now() >= deadline) {
        throw unavailable(
          `key file ${path} is locked by another rotation (${lockPath}); if none is running, remove that file`,
        );
      }
      await sleep(25);
    }
  }
  try {
    await lock.close();
    return await run();
  } finally {
    await unlink(lockPath).catch(() => {});
  }
}
