import type { Stats } from 'node:fs';
import { chmod, type FileHandle, mkdir, stat } from 'node:fs/promises';
import { AuditStoreError } from './errors.ts';

/**
 * Audit files say who did what for whom: only the account the store runs as may read or write them,
 * like the vault's key file (`@baton/vault` key-stores/key-file.ts). Files are created 0600 and the
 * directory 0700 (umask can only take bits away), and what an earlier version or an operator left
 * looser is tightened on open rather than refused: the store owns these files, and a fail-closed store
 * that refused to open would stop every audited call. What another account owns is refused, since
 * that account could loosen it again (or swap it) at any time.
 */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIRECTORY_MODE = 0o700;

const GROUP_OR_OTHERS = 0o077;
/** Windows has no POSIX modes or owners to check. */
const POSIX = process.platform !== 'win32';

/** Creates `directory` (and missing parents) owner-only, or checks and tightens the one that exists. */
export async function ensurePrivateDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  if (!POSIX) return;
  const stats = await stat(directory);
  if (!stats.isDirectory()) throw insecure(`${directory} is not a directory`);
  checkOwner(stats, directory);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await chmod(directory, PRIVATE_DIRECTORY_MODE);
}

/** Checks and tightens an existing file of the store; a missing one is fine (it is created 0600). */
export async function tightenPrivateFile(path: string): Promise<void> {
  if (!POSIX) return;
  let stats: Stats;
  try {
    stats = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isFile()) throw insecure(`${path} is not a regular file`);
  checkOwner(stats, path);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await chmod(path, PRIVATE_FILE_MODE);
}

/** The same for a file already open (checked on the descriptor, so a swapped path does not matter). */
export async function tightenOpenFile(handle: FileHandle, path: string): Promise<void> {
  if (!POSIX) return;
  const stats = await handle.stat();
  if (!stats.isFile()) throw insecure(`${path} is not a regular file`);
  checkOwner(stats, path);
  if ((stats.mode & GROUP_OR_OTHERS) !== 0) await handle.chmod(PRIVATE_FILE_MODE);
}

function checkOwner(stats: Stats, path: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid) {
    throw insecure(
      `${path} belongs to another account (uid ${stats.uid}); the audit store only uses files its own account owns`,
    );
  }
}

function insecure(message: string): AuditStoreError {
  return new AuditStoreError('ERR_AUDIT_STORE_INSECURE', message);
}
