import { constants, type Stats } from 'node:fs';
import { chmod, type FileHandle, lstat, mkdir, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isLinkRefusal, NO_FOLLOW, PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE } from '@baton/core/node';
import { AuditStoreError } from './errors.ts';

/**
 * Audit files say who did what for whom: only the account the store runs as may read or write them,
 * like the vault's key file (modes, flags and atomic writes come from `@baton/core/node`'s secret-file
 * module, shared with the vault and the broker's signing keys). Files are created 0600 and the
 * directory 0700 (umask can only take bits away), and what an earlier version or an operator left
 * looser is tightened on open rather than refused: the store owns these files, and a fail-closed store
 * that refused to open would stop every audited call. What another account owns is refused, since
 * that account could loosen it again (or swap it) at any time.
 *
 * Paths are not trusted to stay what they were when checked: a symlink where a store file or the store
 * directory is expected is refused (checked with `lstat`, and files are opened `O_NOFOLLOW`, so a link
 * planted between the check and the open is refused too), a store file with a second hard link is
 * refused, and the store directory's parent must not let another account rename or replace it
 * (writable by group or others without the sticky bit, or owned by another account than this one or
 * root). Ancestors above that parent are not checked: whoever can rewrite them controls the path.
 */
export { NEW_FILE_FLAGS, PRIVATE_DIRECTORY_MODE, PRIVATE_FILE_MODE, READ_FLAGS } from '@baton/core/node';

const GROUP_OR_OTHERS = 0o077;
const GROUP_OR_OTHERS_WRITE = 0o022;
const STICKY = 0o1000;
/** Windows has no POSIX modes or owners to check. */
const POSIX = process.platform !== 'win32';

/** Flags for a store file appended to (the log, the outbox): created 0600 if missing, never through a link. */
export const APPEND_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | NO_FOLLOW;

/** Creates `directory` (and missing parents) owner-only, or checks and tightens the one that exists. */
export async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  if (!POSIX) return;
  const stats = await lstat(directory);
  if (stats.isSymbolicLink())
    throw insecure(`${directory} is a symbolic link, not the store's own directory`);
  if (!stats.isDirectory()) throw insecure(`${directory} is not a directory`);
  checkOwner(stats, directory);
  await checkParent(directory);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await chmod(directory, PRIVATE_DIRECTORY_MODE);
}

/** Checks and tightens an existing file of the store; a missing one is fine (it is created 0600). */
export async function tightenPrivateFile(path: string): Promise<void> {
  if (!POSIX) return;
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  checkFile(stats, path);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await chmod(path, PRIVATE_FILE_MODE);
}

/** The same for a file already open (checked on the descriptor, so a swapped path does not matter). */
export async function tightenOpenFile(handle: FileHandle, path: string): Promise<void> {
  if (!POSIX) return;
  const stats = await handle.stat();
  checkFile(stats, path);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await handle.chmod(PRIVATE_FILE_MODE);
}

/**
 * Opens a store file with `flags` (`O_NOFOLLOW` among them) and checks it on the descriptor. A symlink
 * at `path` is refused with `ERR_AUDIT_STORE_INSECURE` and its target is neither read nor written.
 */
export async function openPrivateFile(path: string, flags: number): Promise<FileHandle> {
  const handle = await openWithoutFollowing(path, flags);
  try {
    await tightenOpenFile(handle, path);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** `open` with `flags` that include `O_NOFOLLOW`; a link at `path` is `ERR_AUDIT_STORE_INSECURE`. */
export async function openWithoutFollowing(path: string, flags: number): Promise<FileHandle> {
  try {
    return await open(path, flags, PRIVATE_FILE_MODE);
  } catch (error) {
    if (isLinkRefusal(error)) {
      throw insecure(`${path} is a symbolic link; the audit store does not use files through links`, error);
    }
    throw error;
  }
}

function checkFile(stats: Stats, path: string): void {
  if (stats.isSymbolicLink())
    throw insecure(`${path} is a symbolic link; the audit store does not write through links`);
  if (!stats.isFile()) throw insecure(`${path} is not a regular file`);
  checkOwner(stats, path);
  // A second name for the file is a name the store does not control (a hard link to a file elsewhere).
  if (stats.nlink > 1) throw insecure(`${path} has ${stats.nlink} hard links; a store file has one`);
}

/** Whoever may write the parent can rename the store directory away and put their own in its place. */
async function checkParent(directory: string): Promise<void> {
  const parent = dirname(resolve(directory));
  const stats = await stat(parent);
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
    throw insecure(
      `${parent}, the parent of the store directory, belongs to another account (uid ${stats.uid}), which could replace the store directory`,
    );
  }
  if ((stats.mode & GROUP_OR_OTHERS_WRITE) !== 0 && (stats.mode & STICKY) === 0) {
    throw insecure(
      `${parent}, the parent of the store directory, is writable by other accounts without the sticky bit, so they could replace the store directory`,
    );
  }
}

function checkOwner(stats: Stats, path: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw insecure(
      `${path} belongs to another account (uid ${stats.uid}); the audit store only uses files its own account owns`,
    );
  }
}

function insecure(message: string, cause?: unknown): AuditStoreError {
  return new AuditStoreError(
    'ERR_AUDIT_STORE_INSECURE',
    message,
    cause === undefined ? undefined : { cause },
  );
}
