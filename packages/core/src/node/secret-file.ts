import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { type FileHandle, link, lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Files holding secrets (key-encryption keys, signing keys, audit chains) are owner-only: created 0600
 * in a 0700 directory. The umask can only take bits away, and the mode is set on the descriptor too.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIRECTORY_MODE = 0o700;

/** Group or others may read, write or execute: a secret file with any of these bits is refused. */
const GROUP_OR_OTHERS = 0o077;
/** Windows has no POSIX modes to check. */
const POSIX = process.platform !== 'win32';
/** `O_NOFOLLOW` where the platform has it (every POSIX system Node runs on). */
export const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
/** Flags for a temporary file: a new file, never one that exists or a link (`O_EXCL`). */
export const NEW_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NO_FOLLOW;
/** `O_NONBLOCK` where the platform has it: opening a FIFO planted at the path must not wait for a writer. */
const NON_BLOCKING = constants.O_NONBLOCK ?? 0;
/** Flags for reading a file without following a link planted at its path, or blocking on a FIFO. */
export const READ_FLAGS = constants.O_RDONLY | NO_FOLLOW | NON_BLOCKING;
/** Flags for reading a file through a link (a mounted secret), never blocking on a FIFO. */
const READ_THROUGH_LINK_FLAGS = constants.O_RDONLY | NON_BLOCKING;

/**
 * How a caller reports a refused or failed secret file: each package keeps throwing its own error class
 * (`VaultError`, `AuditStoreError`, …). The message names the path and the problem, never the content.
 */
export type SecretFileError = (message: string, cause?: unknown) => Error;

export interface SecretFileOptions {
  /** What the file is, for messages: `"key file"`, `"signing-key file"`. Default `"file"`. */
  readonly label?: string;
  /** Builds the error thrown; default a plain `Error` with `cause`. */
  readonly error?: SecretFileError;
}

export interface ReadSecretFileOptions extends SecretFileOptions {
  /**
   * Read through a symbolic link at `path` (a Kubernetes secret volume is links). The mode is checked on
   * the opened descriptor, so the checks apply to the target. Default false: a link is refused.
   */
  readonly followLinks?: boolean;
}

const plainError: SecretFileError = (message, cause) =>
  new Error(message, cause === undefined ? undefined : { cause });

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** True when `error` (from `readSecretFile`) says the file does not exist. */
export function isMissingSecretFile(error: unknown): boolean {
  return errnoCode((error as { cause?: unknown } | undefined)?.cause) === 'ENOENT';
}

/** Whether a link was refused by `O_NOFOLLOW`: Linux answers ELOOP, macOS and the BSDs EMLINK or EFTYPE. */
export function isLinkRefusal(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE';
}

/**
 * Reads a secret file, refusing one that group or others can read or write (any of mode 0o077), like
 * ssh does for private keys: a secret others can read protects nothing, and one others can write could
 * be swapped for theirs. It also refuses a file another user owns (only this process's user or root
 * may own it: another owner could have put their own key there) and anything but a regular file (a
 * FIFO is opened non-blocking, so one planted at the path cannot hang the process). Checks run on the
 * opened descriptor, so a file swapped between check and read is no issue. Errors name the path and the problem, never the content. A missing file is an error
 * whose `cause` has code `ENOENT` (`isMissingSecretFile`). Returns the text and the descriptor's stats.
 *
 * @example
 * const { text } = await readSecretFile('/etc/baton/keys.json', { label: 'signing-key file' });
 */
export async function readSecretFile(
  path: string,
  options: ReadSecretFileOptions = {},
): Promise<{ text: string; stats: Stats }> {
  const label = options.label ?? 'file';
  const fail = options.error ?? plainError;
  let handle: FileHandle;
  try {
    handle = await open(path, options.followLinks ? READ_THROUGH_LINK_FLAGS : READ_FLAGS);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') throw fail(`${label} ${path} does not exist`, error);
    if (isLinkRefusal(error)) throw fail(`${label} ${path} is a symbolic link; it is not followed`, error);
    throw fail(`${label} ${path} cannot be opened (${code})`, error);
  }
  try {
    const unreadable = (error: unknown) =>
      fail(`${label} ${path} cannot be read (${errnoCode(error)})`, error);
    const stats = await handle.stat().catch((error: unknown) => Promise.reject(unreadable(error)));
    if (!stats.isFile()) throw fail(`${label} ${path} is not a regular file`);
    const uid = process.getuid?.();
    if (POSIX && uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
      throw fail(
        `${label} ${path} is owned by uid ${stats.uid}: it must be owned by this process's user (uid ${uid}) or root`,
      );
    }
    const mode = stats.mode & 0o777;
    if (POSIX && (mode & GROUP_OR_OTHERS) !== 0) {
      throw fail(
        `${label} ${path} has mode ${mode.toString(8).padStart(4, '0')}: it must not be readable or writable by group or others; run: chmod 600 ${path}`,
      );
    }
    const text = await handle.readFile('utf8').catch((error: unknown) => Promise.reject(unreadable(error)));
    return { text, stats };
  } finally {
    await handle.close();
  }
}

/**
 * Makes a directory's entries durable: after creating or renaming a file, its name is only safe once the
 * directory itself has been fsynced (fsync on the file covers its data, not the entry naming it).
 */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `text` into a new owner-only file next to `path` and flushes it; returns its name. `O_EXCL`
 * under an unguessable name, never through a link: nothing planted or left by a crash is written
 * through. A failed write removes the temporary file.
 */
async function writeTemporary(path: string, text: string): Promise<string> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, NEW_FILE_FLAGS, PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await handle.close();
  return temporary;
}

/**
 * Replaces a secret file atomically: a complete, fsynced, owner-only temporary file (`O_EXCL`) is
 * renamed over `path` and the directory is fsynced, so a crash leaves the old or the new content, never
 * a mix, and the new name survives a power loss. `rename` replaces the name itself, link or not.
 * Errors from the file system are thrown as they are (callers wrap them in their own class).
 *
 * @example
 * await withFileLock(path, 5000, async () => writeSecretFile(path, next));
 */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  const temporary = await writeTemporary(path, text);
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/**
 * Creates a secret file with `text` unless one exists: the complete, fsynced file is published with
 * `link`, which fails if another process won the race. Missing parent directories are created 0700.
 * Returns false when the file already existed (read it instead: two instances starting together then
 * agree on the winner's content).
 *
 * @example
 * if (!(await createSecretFile(path, serialize([newKey()])))) ({ text } = await readSecretFile(path));
 */
export async function createSecretFile(path: string, text: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  const temporary = await writeTemporary(path, text);
  try {
    await link(temporary, path);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => {});
  }
  await fsyncDirectory(dirname(path));
  return true;
}

/**
 * Runs a read-modify-write of `path` under `<path>.lock` (created with `O_EXCL`), so two processes
 * rotating at once cannot each write a file without the other's new key and lose it. Waits up to
 * `waitMs` for a lock held elsewhere. A lock left by a crashed process is not broken automatically:
 * the error says which file to remove. The lock is removed at the end only if it is still the one this
 * call created (same device and inode).
 *
 * @example
 * await withFileLock(path, 5000, async () => writeSecretFile(path, rotate(await read(path))));
 */
export async function withFileLock<T>(
  path: string,
  waitMs: number,
  run: () => Promise<T>,
  options: SecretFileOptions = {},
): Promise<T> {
  const label = options.label ?? 'file';
  const fail = options.error ?? plainError;
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  let lock: FileHandle | undefined;
  let lockIdentity: Stats | undefined;
  while (lock === undefined) {
    try {
      lock = await open(lockPath, NEW_FILE_FLAGS, PRIVATE_FILE_MODE);
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'EEXIST') throw fail(`${label} lock ${lockPath} cannot be created (${code})`, error);
      if (Date.now() >= deadline) {
        throw fail(
          `${label} ${path} is locked by another rotation (${lockPath}); if none is running, remove that file`,
        );
      }
      await sleep(25);
    }
  }
  try {
    // Held open until the end, so that its inode cannot be reused by a file someone else creates.
    lockIdentity = await lock.stat();
    return await run();
  } finally {
    // Only the lock this call created: one that someone else put at the path since stays theirs.
    const current = await lstat(lockPath).catch(() => undefined);
    if (
      current !== undefined &&
      lockIdentity !== undefined &&
      current.dev === lockIdentity.dev &&
      current.ino === lockIdentity.ino
    ) {
      await unlink(lockPath).catch(() => {});
    }
    await lock.close().catch(() => {});
  }
}
