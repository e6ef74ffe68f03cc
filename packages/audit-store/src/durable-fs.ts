import type { open } from 'node:fs/promises';
import { openWithoutFollowing, READ_FLAGS } from './private-files.ts';

/**
 * Durable writes are `@baton/core/node`'s secret-file module, shared with the vault's key file and the
 * broker's signing keys: `writeFileAtomic` replaces a file through a new `O_EXCL` temporary file
 * (0600, never through a link), fsynced, renamed, with the directory fsynced after.
 */
export { fsyncDirectory, writeSecretFile as writeFileAtomic } from '@baton/core/node';

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
