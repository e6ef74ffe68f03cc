import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { VaultError } from '../../errors.ts';
import type { KeyStore, WrappedKey } from '../../key-store.ts';
import {
  type Attribute,
  acquireLibrary,
  ckrOf,
  type Handle,
  type Library,
  releaseLibrary,
} from './binding.ts';
import {
  CKA_CLASS,
  CKA_DECRYPT,
  CKA_DERIVE,
  CKA_ENCRYPT,
  CKA_EXTRACTABLE,
  CKA_ID,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_PRIVATE,
  CKA_SENSITIVE,
  CKA_SIGN,
  CKA_TOKEN,
  CKA_UNWRAP,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKA_VERIFY,
  CKA_WRAP,
  CKF_RW_SESSION,
  CKF_SERIAL_SESSION,
  CKK_AES,
  CKM_AES_KEY_GEN,
  CKM_AES_KEY_WRAP,
  CKO_SECRET_KEY,
  CKU_USER,
} from './constants.ts';

export interface Pkcs11KeyStoreOptions {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly library: string;
  /** The token, by slot id or by token label: exactly one. */
  readonly slot?: number;
  readonly tokenLabel?: string;
  /** User PIN. Never appears in an error message. */
  readonly pin: string;
  /** `CKA_LABEL` shared by this vault's KEKs; the one with the highest `CKA_ID` is current. */
  readonly keyLabel: string;
  /**
   * Generate a KEK in the token when none carries `keyLabel`. Default false: HSM keys are provisioned,
   * and a mistyped label should fail closed rather than start a new key.
   */
  readonly generateIfMissing?: boolean;
}

const KEK_ID_PREFIX = 'p11-';
const MECHANISM = { mechanism: CKM_AES_KEY_WRAP };

/** PKCS#11 return values that mean the wrapped key itself was refused, i.e. it was altered. */
const TAMPER_CODES = new Set([
  'CKR_WRAPPED_KEY_INVALID',
  'CKR_WRAPPED_KEY_LEN_RANGE',
  'CKR_ENCRYPTED_DATA_INVALID',
  'CKR_ENCRYPTED_DATA_LEN_RANGE',
  // SoftHSM2 reports a failed RFC 3394 integrity check as a general error.
  'CKR_GENERAL_ERROR',
  'CKR_FUNCTION_FAILED',
]);

/** PKCS#11 return values that mean a cached key handle is gone (the key was destroyed elsewhere). */
const STALE_HANDLE_CODES = new Set([
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_WRAPPING_KEY_HANDLE_INVALID',
]);

/**
 * How often `wrap` re-selects the current KEK, picking up a rotation another process made. A search of
 * the token costs a few calls (round trips on a network HSM), so it is not done for every wrap.
 */
const RESELECT_INTERVAL_MS = 1000;

const unavailable = (message: string, cause?: unknown) =>
  new VaultError('ERR_VAULT_KEY_UNAVAILABLE', message, cause === undefined ? undefined : { cause });

const flag = (value: Attribute['value']) => Buffer.isBuffer(value) && value.length > 0 && value[0] !== 0;
const pinDigest = (pin: string) => createHash('sha256').update(pin, 'utf8').digest();

/**
 * Generated ids sort by creation time (8-byte big-endian milliseconds), then 8 random bytes so two
 * instances rotating in the same millisecond still differ. "Current" is simply the highest id.
 */
function newObjectId(): Buffer {
  const id = Buffer.alloc(16);
  id.writeBigUInt64BE(BigInt(Date.now()), 0);
  randomBytes(8).copy(id, 8);
  return id;
}

/** The `CKA_ID` bytes behind a KEK id (`p11-<hex>`). */
function objectIdOf(kekId: string): Buffer {
  return Buffer.from(kekId.slice(KEK_ID_PREFIX.length), 'hex');
}

function slotNumber(slot: Handle): number {
  return slot.length >= 8 ? Number(slot.readBigUInt64LE(0)) : slot.readUInt32LE(0);
}

/**
 * KEKs inside a PKCS#11 token (an HSM, or SoftHSM2 in tests). Each KEK is an AES-256 secret key object
 * generated in the token as sensitive and non-extractable, usable only to wrap and unwrap; data keys
 * are wrapped with `CKM_AES_KEY_WRAP` (RFC 3394) inside the token, so the KEK never reaches this
 * process. To unwrap, the token creates a short-lived session object for the data key, whose value is
 * read back and the object destroyed at once.
 *
 * Calls into the token are synchronous (pkcs11js), one session per key store: a round trip blocks the
 * event loop for its duration, tens of microseconds with SoftHSM2. Open a second key store for
 * parallel work against a network HSM.
 */
/**
 * A data key as a short-lived session object: never on the token, and extractable, because it only
 * passes through the HSM to be wrapped or unwrapped. It is destroyed right after use.
 */
const SESSION_DATA_KEY = [
  { type: CKA_CLASS, value: CKO_SECRET_KEY },
  { type: CKA_KEY_TYPE, value: CKK_AES },
  { type: CKA_TOKEN, value: false },
  { type: CKA_PRIVATE, value: true },
  { type: CKA_SENSITIVE, value: false },
  { type: CKA_EXTRACTABLE, value: true },
];

export class Pkcs11KeyStore implements KeyStore {
  readonly keyLabel: string;
  readonly tokenLabel: string;
  #library: Library | undefined;
  readonly #session: Handle;
  readonly #slotKey: string;
  #current: { id: string; handle: Handle };
  readonly #handles = new Map<string, Handle>();
  #selectedAt = Date.now();

  private constructor(
    library: Library,
    session: Handle,
    slotKey: string,
    tokenLabel: string,
    keyLabel: string,
    current: { id: string; handle: Handle },
  ) {
    this.#library = library;
    this.#session = session;
    this.#slotKey = slotKey;
    this.tokenLabel = tokenLabel;
    this.keyLabel = keyLabel;
    this.#current = current;
    this.#handles.set(current.id, current.handle);
  }

  /** Loads the library, logs in and finds the current KEK; fails closed with `ERR_VAULT_KEY_UNAVAILABLE`. */
  static async open(options: Pkcs11KeyStoreOptions): Promise<Pkcs11KeyStore> {
    validate(options);
    const library = acquireLibrary(options.library);
    let session: Handle | undefined;
    let loggedIn: string | undefined;
    try {
      const { slot, label } = findSlot(library, options);
      const slotKey = `${slotNumber(slot)}`;
      try {
        session = library.module.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
      } catch (error) {
        throw unavailable(
          `cannot open a session on PKCS#11 token "${label}" (${ckrOf(error) ?? 'error'})`,
          error,
        );
      }
      login(library, session, slotKey, label, options.pin);
      loggedIn = slotKey;
      const current =
        selectCurrent(library, session, options.keyLabel) ??
        (options.generateIfMissing === true ? generateKek(library, session, options.keyLabel) : undefined);
      if (current === undefined) {
        throw unavailable(
          `PKCS#11 token "${label}" holds no AES key labelled "${options.keyLabel}"; provision one or open with generateIfMissing: true`,
        );
      }
      return new Pkcs11KeyStore(library, session, slotKey, label, options.keyLabel, current);
    } catch (error) {
      if (session !== undefined) closeSession(library, session, loggedIn);
      releaseLibrary(library);
      throw error;
    }
  }

  get currentKeyId(): string {
    return this.#current.id;
  }

  #open(): Library {
    if (this.#library === undefined) throw unavailable(`PKCS#11 key store for "${this.keyLabel}" is closed`);
    return this.#library;
  }

  /**
   * Wraps under the current KEK. Another process may have rotated (a newer KEK is current) or retired
   * this process's current KEK: the token is searched again at most once a second, and at once when the
   * cached KEK handle turns out to be gone.
   */
  async wrap(dek: Uint8Array): Promise<WrappedKey> {
    this.#open();
    if (Date.now() - this.#selectedAt >= RESELECT_INTERVAL_MS) this.#reselect();
    const current = this.#current;
    try {
      return this.#wrapUnder(current, dek);
    } catch (error) {
      if (!STALE_HANDLE_CODES.has(ckrOf(error) ?? '')) throw this.#wrapFailed(current, error);
    }
    this.#handles.delete(current.id);
    this.#reselect();
    try {
      return this.#wrapUnder(this.#current, dek);
    } catch (error) {
      throw this.#wrapFailed(this.#current, error);
    }
  }

  #wrapFailed(kek: { id: string }, error: unknown): VaultError {
    return unavailable(`PKCS#11 wrap with key ${kek.id} failed (${ckrOf(error) ?? 'error'})`, error);
  }

  #wrapUnder(kek: { id: string; handle: Handle }, dek: Uint8Array): WrappedKey {
    const { module } = this.#open();
    const session = this.#session;
    let temporary: Handle | undefined;
    try {
      temporary = module.C_CreateObject(session, [
        ...SESSION_DATA_KEY,
        { type: CKA_VALUE, value: Buffer.from(dek) },
      ]);
      const wrapped = module.C_WrapKey(
        session,
        MECHANISM,
        kek.handle,
        temporary,
        Buffer.alloc(dek.length + 16),
      );
      return { kekId: kek.id, wrapped: Buffer.from(wrapped) };
    } finally {
      if (temporary !== undefined) destroyQuietly(module, session, temporary);
    }
  }

  /** Makes the highest-id KEK of this label family current (validated as `open` does). */
  #reselect(): void {
    this.#selectedAt = Date.now();
    const current = selectCurrent(this.#open(), this.#session, this.keyLabel);
    if (current === undefined) {
      throw unavailable(
        `PKCS#11 token "${this.tokenLabel}" no longer holds a key labelled "${this.keyLabel}"`,
      );
    }
    this.#current = current;
    this.#handles.set(current.id, current.handle);
  }

  async unwrap(kekId: string, wrapped: Uint8Array): Promise<Uint8Array> {
    const { module } = this.#open();
    const kek = this.#handleOf(kekId);
    if (wrapped.length < 24 || wrapped.length % 8 !== 0) {
      throw new VaultError(
        'ERR_VAULT_TAMPERED',
        'wrapped data key has an impossible length for AES key wrap',
      );
    }
    const session = this.#session;
    let temporary: Handle | undefined;
    try {
      temporary = module.C_UnwrapKey(session, MECHANISM, kek, Buffer.from(wrapped), SESSION_DATA_KEY);
      const [value] = module.C_GetAttributeValue(session, temporary, [{ type: CKA_VALUE }]);
      if (!Buffer.isBuffer(value?.value))
        throw unavailable('PKCS#11 token returned no value for the unwrapped key');
      const dek = Buffer.from(value.value);
      value.value.fill(0);
      return dek;
    } catch (error) {
      if (error instanceof VaultError) throw error;
      const code = ckrOf(error);
      if (code !== undefined && TAMPER_CODES.has(code)) {
        throw new VaultError(
          'ERR_VAULT_TAMPERED',
          `wrapped data key was refused by the PKCS#11 token (${code})`,
          {
            cause: error,
          },
        );
      }
      throw unavailable(`PKCS#11 unwrap with key ${kekId} failed (${code ?? 'error'})`, error);
    } finally {
      if (temporary !== undefined) destroyQuietly(module, session, temporary);
    }
  }

  /** Finds a KEK of this label family by id; anything else is unknown, even an AES key with that id. */
  #handleOf(kekId: string): Handle {
    const cached = this.#handles.get(kekId);
    if (cached !== undefined) return cached;
    const unknown = () =>
      new VaultError(
        'ERR_VAULT_KEY_UNKNOWN',
        `key-encryption key ${kekId} is not on PKCS#11 token "${this.tokenLabel}"`,
      );
    const hex = kekId.startsWith(KEK_ID_PREFIX) ? kekId.slice(KEK_ID_PREFIX.length) : '';
    if (!/^(?:[0-9a-f]{2})+$/.test(hex)) throw unknown();
    const [handle] = findObjects(this.#open(), this.#session, [
      ...kekTemplate(this.keyLabel),
      { type: CKA_ID, value: Buffer.from(hex, 'hex') },
    ]);
    if (handle === undefined) throw unknown();
    this.#handles.set(kekId, handle);
    // A KEK newer than the current one was made by another process's rotation: make it current here
    // too, so new entries are not sealed under a KEK that process may retire.
    if (Buffer.compare(Buffer.from(hex, 'hex'), objectIdOf(this.#current.id)) > 0) this.#reselect();
    return handle;
  }

  /** Generates a new KEK in the token; being the newest, it becomes current. Old KEKs stay for unwrapping. */
  async rotate(): Promise<string> {
    this.#current = generateKek(this.#open(), this.#session, this.keyLabel);
    this.#handles.set(this.#current.id, this.#current.handle);
    return this.#current.id;
  }

  /** Re-selects the current KEK, picking up a rotation made by another process. */
  async reload(): Promise<void> {
    this.#reselect();
  }

  /** Destroys a non-current KEK inside the token. */
  async retire(kekId: string): Promise<void> {
    if (kekId === this.#current.id) {
      throw new VaultError(
        'ERR_VAULT_KEY_IN_USE',
        `key-encryption key ${kekId} is current and cannot be retired`,
      );
    }
    const handle = this.#handleOf(kekId);
    try {
      this.#open().module.C_DestroyObject(this.#session, handle);
    } catch (error) {
      throw unavailable(`PKCS#11 could not destroy key ${kekId} (${ckrOf(error) ?? 'error'})`, error);
    }
    this.#handles.delete(kekId);
  }

  async close(): Promise<void> {
    const library = this.#library;
    if (library === undefined) return;
    this.#library = undefined;
    this.#handles.clear();
    closeSession(library, this.#session, this.#slotKey);
    releaseLibrary(library);
  }
}

function validate(options: Pkcs11KeyStoreOptions): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('Pkcs11KeyStore.open needs options');
  const nonEmpty = (value: unknown) => typeof value === 'string' && value.length > 0;
  if (!nonEmpty(options.library)) throw new TypeError('library must be the path of a PKCS#11 module');
  if ((options.slot === undefined) === (options.tokenLabel === undefined)) {
    throw new TypeError('give exactly one of slot or tokenLabel');
  }
  if (options.slot !== undefined && (!Number.isSafeInteger(options.slot) || options.slot < 0)) {
    throw new TypeError('slot must be a non-negative integer slot id');
  }
  if (options.tokenLabel !== undefined && !nonEmpty(options.tokenLabel)) {
    throw new TypeError('tokenLabel must be a non-empty string');
  }
  if (!nonEmpty(options.pin)) throw new TypeError('pin must be a non-empty string');
  if (!nonEmpty(options.keyLabel)) throw new TypeError('keyLabel must be a non-empty string');
  if (options.generateIfMissing !== undefined && typeof options.generateIfMissing !== 'boolean') {
    throw new TypeError('generateIfMissing must be a boolean');
  }
}

function findSlot(library: Library, options: Pkcs11KeyStoreOptions): { slot: Handle; label: string } {
  let slots: Handle[];
  try {
    slots = library.module.C_GetSlotList(true);
  } catch (error) {
    throw unavailable(
      `PKCS#11 library ${library.path} cannot list slots (${ckrOf(error) ?? 'error'})`,
      error,
    );
  }
  const tokens = slots.map((slot) => ({ slot, label: library.module.C_GetTokenInfo(slot).label.trimEnd() }));
  if (options.slot !== undefined) {
    const found = tokens.find((token) => slotNumber(token.slot) === options.slot);
    if (found === undefined) throw unavailable(`PKCS#11 slot ${options.slot} has no token`);
    return found;
  }
  const matching = tokens.filter((token) => token.label === options.tokenLabel);
  if (matching.length === 0)
    throw unavailable(`no PKCS#11 token labelled "${options.tokenLabel}" is present`);
  if (matching.length > 1) {
    throw unavailable(
      `${matching.length} PKCS#11 tokens are labelled "${options.tokenLabel}"; select one by slot`,
    );
  }
  return matching[0]!;
}

/**
 * Logs the user in. PKCS#11 login state belongs to the whole process, so a second key store on an
 * already logged-in token gets `CKR_USER_ALREADY_LOGGED_IN` whatever PIN it gave: it is admitted only
 * if its PIN matches the one that logged in.
 */
function login(library: Library, session: Handle, slotKey: string, label: string, pin: string): void {
  const digest = pinDigest(pin);
  const known = library.logins.get(slotKey);
  try {
    library.module.C_Login(session, CKU_USER, pin);
  } catch (error) {
    const code = ckrOf(error);
    if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
      throw unavailable(`PKCS#11 login to token "${label}" failed (${code ?? 'error'})`, error);
    }
    if (known !== undefined && !timingSafeEqual(known.pin, digest)) {
      throw unavailable(
        `PKCS#11 login to token "${label}" failed (PIN differs from the one already logged in)`,
      );
    }
  }
  if (known === undefined) library.logins.set(slotKey, { sessions: 1, pin: digest });
  else known.sessions += 1;
}

/** Closing the last session on a token logs it out (PKCS#11 §5.6), so the recorded login goes too. */
function closeSession(library: Library, session: Handle, loggedInSlot: string | undefined): void {
  try {
    library.module.C_CloseSession(session);
  } catch {
    // Already gone with the device or the library: nothing left to close.
  }
  if (loggedInSlot === undefined) return;
  const login = library.logins.get(loggedInSlot);
  if (login !== undefined && --login.sessions <= 0) library.logins.delete(loggedInSlot);
}

function destroyQuietly(module: Library['module'], session: Handle, object: Handle): void {
  try {
    module.C_DestroyObject(session, object);
  } catch {
    // A session object also disappears when the session closes.
  }
}

function findObjects(library: Library, session: Handle, template: Attribute[]): Handle[] {
  const { module } = library;
  const found: Handle[] = [];
  try {
    module.C_FindObjectsInit(session, template);
    try {
      for (;;) {
        const batch = module.C_FindObjects(session, 32);
        if (batch.length === 0) break;
        found.push(...batch);
      }
    } finally {
      module.C_FindObjectsFinal(session);
    }
  } catch (error) {
    throw unavailable(`PKCS#11 object search failed (${ckrOf(error) ?? 'error'})`, error);
  }
  return found;
}

const kekTemplate = (keyLabel: string): Attribute[] => [
  { type: CKA_CLASS, value: CKO_SECRET_KEY },
  { type: CKA_KEY_TYPE, value: CKK_AES },
  { type: CKA_LABEL, value: keyLabel },
];

/**
 * The KEK with the highest `CKA_ID` among AES keys labelled `keyLabel`, after checking it can serve as
 * one: a wrap/unwrap key that is sensitive and not extractable. A key that could leave the token is
 * refused rather than used.
 */
function selectCurrent(
  library: Library,
  session: Handle,
  keyLabel: string,
): { id: string; handle: Handle } | undefined {
  let best: { id: Buffer; handle: Handle } | undefined;
  for (const handle of findObjects(library, session, kekTemplate(keyLabel))) {
    let id: Attribute['value'];
    try {
      id = library.module.C_GetAttributeValue(session, handle, [{ type: CKA_ID }])[0]?.value;
    } catch (error) {
      throw unavailable(
        `PKCS#11 key labelled "${keyLabel}" cannot be read (${ckrOf(error) ?? 'error'})`,
        error,
      );
    }
    if (!Buffer.isBuffer(id) || id.length === 0) {
      throw unavailable(`PKCS#11 key labelled "${keyLabel}" has no CKA_ID; give every KEK a unique id`);
    }
    if (best === undefined || Buffer.compare(id, best.id) > 0) best = { id, handle };
  }
  if (best === undefined) return undefined;
  const [sensitive, extractable, wrap, unwrap] = library.module.C_GetAttributeValue(session, best.handle, [
    { type: CKA_SENSITIVE },
    { type: CKA_EXTRACTABLE },
    { type: CKA_WRAP },
    { type: CKA_UNWRAP },
  ]);
  const id = `${KEK_ID_PREFIX}${best.id.toString('hex')}`;
  if (!flag(sensitive?.value) || flag(extractable?.value)) {
    throw unavailable(
      `PKCS#11 key ${id} ("${keyLabel}") is extractable or not sensitive; a KEK must never leave the token`,
    );
  }
  if (!flag(wrap?.value) || !flag(unwrap?.value)) {
    throw unavailable(
      `PKCS#11 key ${id} ("${keyLabel}") is not allowed to wrap and unwrap (CKA_WRAP, CKA_UNWRAP)`,
    );
  }
  return { id, handle: best.handle };
}

/** A new AES-256 KEK generated inside the token: persistent, private, sensitive, never extractable, wrap/unwrap only. */
function generateKek(library: Library, session: Handle, keyLabel: string): { id: string; handle: Handle } {
  const objectId = newObjectId();
  try {
    const handle = library.module.C_GenerateKey(session, { mechanism: CKM_AES_KEY_GEN }, [
      ...kekTemplate(keyLabel),
      { type: CKA_ID, value: objectId },
      { type: CKA_VALUE_LEN, value: 32 },
      { type: CKA_TOKEN, value: true },
      { type: CKA_PRIVATE, value: true },
      { type: CKA_SENSITIVE, value: true },
      { type: CKA_EXTRACTABLE, value: false },
      { type: CKA_WRAP, value: true },
      { type: CKA_UNWRAP, value: true },
      { type: CKA_ENCRYPT, value: false },
      { type: CKA_DECRYPT, value: false },
      { type: CKA_SIGN, value: false },
      { type: CKA_VERIFY, value: false },
      { type: CKA_DERIVE, value: false },
    ]);
    return { id: `${KEK_ID_PREFIX}${objectId.toString('hex')}`, handle };
  } catch (error) {
    throw unavailable(`PKCS#11 key generation for "${keyLabel}" failed (${ckrOf(error) ?? 'error'})`, error);
  }
}
