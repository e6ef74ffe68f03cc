import { randomBytes } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NEW_FILE_FLAGS, openWithoutFollowing, PRIVATE_FILE_MODE, READ_FLAGS } from './private-files.ts';

/**
 * Makes a directory's entries durable: after creating or renaming a file, its name is only safe once
 * the directory itself has been fsynced (fsync on the file covers its data, not the entry naming it).
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
 * Replaces a small file so that a crash leaves either the old or the new content, never a mix. The
 * temporary file is new (`O_EXCL`, under an unguessable name, never through a link), so nothing planted
 * or left by a crash is written through; `rename` then replaces the name itself, link or not. The mode
 * is set on the descriptor too, so the umask cannot loosen it.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await openWithoutFollowing(temporary, NEW_FILE_FLAGS);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await fsyncDirectory(dirname(path));
}

/** A file's content, or `undefined` if it does not exist; a link at `path` is `ERR_AUDIT_STORE_INSECURE`. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await openWithoutFollowing(path, READ_FLAGS);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
