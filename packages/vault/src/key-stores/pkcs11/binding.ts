import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { VaultError } from '../../errors.ts';

/** A PKCS#11 object, slot or session handle, as pkcs11js represents it (a native CK_ULONG in a Buffer). */
export type Handle = Buffer;

export interface Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}

/**
 * The slice of pkcs11js's `PKCS11` class this package calls. Declared here so the package typechecks
 * and loads without the optional native addon; the addon is only required when a PKCS#11 key store is
 * opened.
 */
export interface Pkcs11Module {
  load(path: string): void;
  close(): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): { label: string };
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, maxObjectCount: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): Attribute[];
  C_CreateObject(session: Handle, template: Attribute[]): Handle;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_GenerateKey(session: Handle, mechanism: { mechanism: number }, template: Attribute[]): Handle;
  C_WrapKey(
    session: Handle,
    mechanism: { mechanism: number },
    wrappingKey: Handle,
    key: Handle,
    out: Buffer,
  ): Buffer;
  C_UnwrapKey(
    session: Handle,
    mechanism: { mechanism: number },
    unwrappingKey: Handle,
    wrapped: Buffer,
    template: Attribute[],
  ): Handle;
}

/** The PKCS#11 return-value name (`CKR_PIN_INCORRECT`...) of a pkcs11js error, if it is one. */
export function ckrOf(error: unknown): string | undefined {
  const message = error instanceof Error ? error.message : '';
  return /^CKR_[A-Z0-9_]+/.exec(message)?.[0];
}

/**
 * One loaded, initialised PKCS#11 library per real path in this process. A library may be initialised
 * only once per process (a second `C_Initialize` fails), so key stores share it and the last one to
 * close finalises it. Login state is per token for the whole process too, hence `logins`.
 */
export interface Library {
  readonly path: string;
  readonly module: Pkcs11Module;
  refs: number;
  /** Per slot: our open sessions and a SHA-256 of the PIN that logged in, to refuse a different one later. */
  readonly logins: Map<string, SlotLogin>;
}

export interface SlotLogin {
  sessions: number;
  readonly pin: Buffer;
}

const libraries = new Map<string, Library>();

const unavailable = (message: string, cause?: unknown) =>
  new VaultError('ERR_VAULT_KEY_UNAVAILABLE', message, cause === undefined ? undefined : { cause });

function loadBinding(): new () => Pkcs11Module {
  try {
    const binding = createRequire(import.meta.url)('pkcs11js') as { PKCS11: new () => Pkcs11Module };
    return binding.PKCS11;
  } catch (error) {
    throw unavailable(
      'the pkcs11js native addon is not installed or did not build (it is an optional dependency of @baton/vault; it needs python3, make and g++ at npm install time)',
      error,
    );
  }
}

export function acquireLibrary(path: string): Library {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    throw unavailable(`PKCS#11 library ${path} does not exist`, error);
  }
  const known = libraries.get(real);
  if (known !== undefined) {
    known.refs += 1;
    return known;
  }
  const module = new (loadBinding())();
  try {
    module.load(real);
  } catch (error) {
    throw unavailable(`PKCS#11 library ${path} cannot be loaded`, error);
  }
  try {
    module.C_Initialize();
  } catch (error) {
    module.close();
    throw unavailable(`PKCS#11 library ${path} failed to initialise (${ckrOf(error) ?? 'error'})`, error);
  }
  const library: Library = { path: real, module, refs: 1, logins: new Map() };
  libraries.set(real, library);
  return library;
}

export function releaseLibrary(library: Library): void {
  library.refs -= 1;
  if (library.refs > 0) return;
  libraries.delete(library.path);
  try {
    library.module.C_Finalize();
  } finally {
    library.module.close();
  }
}
