/**
 * `@baton/core/node`: shared infrastructure that needs Node's file system. The main entry stays
 * runtime-neutral and dependency-free; only server-side packages (vault, audit store, broker) import
 * this subpath.
 */
export {
  createSecretFile,
  fsyncDirectory,
  isLinkRefusal,
  isMissingSecretFile,
  NEW_FILE_FLAGS,
  NO_FOLLOW,
  PRIVATE_DIRECTORY_MODE,
  PRIVATE_FILE_MODE,
  READ_FLAGS,
  type ReadSecretFileOptions,
  readSecretFile,
  type SecretFileError,
  type SecretFileOptions,
  withFileLock,
  writeSecretFile,
} from './secret-file.ts';
