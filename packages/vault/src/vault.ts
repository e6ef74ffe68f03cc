import { randomBytes } from 'node:crypto';
import { open, seal } from './aead.ts';
import { canonicalEntryId, type EntryId } from './entry-id.ts';
import { VaultError, type VaultErrorCode } from './errors.ts';
import { assertKeyStore, DEK_BYTES, type KeyStore } from './key-store.ts';
import {
  associatedData,
  type PlaintextEncoding,
  parseRecord,
  RECORD_VERSION,
  serializeRecord,
} from './record.ts';
import { MemoryVaultStore } from './stores/memory-vault-store.ts';
import { assertVaultStore, type VaultStore } from './vault-store.ts';

export interface VaultOptions {
  /** Holds the key-encryption keys: `FileKeyStore` or `Pkcs11KeyStore`. */
  readonly keyStore: KeyStore;
  /** Holds the sealed records. Default: a new `MemoryVaultStore`. */
  readonly store?: VaultStore;
  /** Clock in ms since the epoch (give the store the same one). Default `Date.now`. */
  readonly now?: () => number;
  /** Upper bound on `ttlSeconds`, catching milliseconds passed as seconds. Default 30 days. */
  readonly maxTtlSeconds?: number;
}

export interface PutOptions {
  /** Seconds until the entry expires and is no longer returned. */
  readonly ttlSeconds: number;
}

/** What `rewrapAll` did. Retire the old KEK only when `failed` is empty. */
export interface RewrapReport {
  /** Ids listed by the store. */
  scanned: number;
  /** Data keys re-wrapped under the current KEK. */
  rewrapped: number;
  /** Already under the current KEK. */
  current: number;
  /** Deleted or expired while the pass ran. */
  gone: number;
  /** Replaced by a concurrent put (already under the current KEK) while the pass ran. */
  raced: number;
  /** Entries that could not be re-wrapped, with why. */
  failed: Array<{ id: string; code: VaultErrorCode }>;
}

const DEFAULT_MAX_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Envelope encryption for cached tokens. Every `put` draws a fresh 256-bit data key, seals the
 * plaintext with AES-256-GCM under a fresh 96-bit nonce, binds the canonical entry id, expiry and
 * encoding as additional authenticated data, and stores the data key only wrapped by the key store's
 * current key-encryption key. The store never sees plaintext or an unwrapped key.
 */
export class Vault {
  readonly #keyStore: KeyStore;
  readonly #store: VaultStore;
  readonly #now: () => number;
  readonly #maxTtlSeconds: number;

  constructor(options: VaultOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('createVault needs { keyStore }');
    assertKeyStore(options.keyStore);
    const store = options.store ?? new MemoryVaultStore({ now: options.now });
    assertVaultStore(store);
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    const max = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    if (typeof max !== 'number' || !(max > 0) || !Number.isFinite(max)) {
      throw new TypeError('maxTtlSeconds must be a positive number');
    }
    this.#keyStore = options.keyStore;
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#maxTtlSeconds = max;
  }

  /** The longest `ttlSeconds` that `put` accepts; callers with longer-lived values clamp to it. */
  get maxTtlSeconds(): number {
    return this.#maxTtlSeconds;
  }

  /** Seals and stores `plaintext` under `entryId`, replacing any previous entry. Fails closed if the key store is unavailable. */
  async put(entryId: EntryId, plaintext: string | Uint8Array, options: PutOptions): Promise<void> {
    const id = canonicalEntryId(entryId);
    const ttl = options?.ttlSeconds;
    if (typeof ttl !== 'number' || !(ttl > 0) || !Number.isFinite(ttl)) {
      throw new TypeError('ttlSeconds must be a positive number');
    }
    if (ttl > this.#maxTtlSeconds) {
      throw new RangeError(`ttlSeconds ${ttl} exceeds maxTtlSeconds ${this.#maxTtlSeconds}`);
    }
    let enc: PlaintextEncoding;
    let bytes: Buffer;
    if (typeof plaintext === 'string') {
      enc = 'utf8';
      bytes = Buffer.from(plaintext, 'utf8');
    } else if (plaintext instanceof Uint8Array) {
      enc = 'bytes';
      bytes = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
    } else {
      throw new TypeError('plaintext must be a string or a Uint8Array');
    }
    const header = { v: RECORD_VERSION, id, exp: Math.ceil(this.#now() + ttl * 1000), enc } as const;
    const dek = randomBytes(DEK_BYTES);
    try {
      const { kekId, wrapped } = await this.#keyStore.wrap(dek);
      if (typeof kekId !== 'string' || kekId.length === 0 || !(wrapped instanceof Uint8Array)) {
        throw new VaultError('ERR_VAULT_KEY_UNAVAILABLE', 'key store returned no wrapped key');
      }
      const sealed = seal(dek, bytes, associatedData(header));
      await this.#store.put(
        id,
        serializeRecord({ ...header, kek: kekId, wdek: wrapped, ...sealed }),
        header.exp,
      );
    } finally {
      dek.fill(0);
      if (enc === 'utf8') bytes.fill(0);
    }
  }

  /**
   * The plaintext stored under `entryId` (a string if a string was put, else bytes), or `undefined`
   * when absent or expired. A record that fails authentication throws `ERR_VAULT_TAMPERED`; an
   * authentic record sealed for another entry throws `ERR_VAULT_WRONG_ENTRY`. Never returns anything
   * that was not authenticated.
   */
  async get(entryId: EntryId): Promise<string | Uint8Array | undefined> {
    const id = canonicalEntryId(entryId);
    const raw = await this.#store.get(id);
    if (raw === undefined) return undefined;
    const record = parseRecord(raw);
    // The stored expiry is authenticated below; an attacker can only make it earlier (a deletion).
    if (record.exp <= this.#now()) return undefined;
    const dek = await this.#keyStore.unwrap(record.kek, record.wdek);
    let plaintext: Buffer;
    try {
      if (dek.length !== DEK_BYTES) {
        throw new VaultError('ERR_VAULT_TAMPERED', 'unwrapped data key has the wrong length');
      }
      // Authenticate against the id the record claims, then compare: an intact record for another
      // entry is a swap (WRONG_ENTRY); a record whose claimed id was edited fails here (TAMPERED).
      plaintext = open(dek, record, associatedData(record));
    } finally {
      dek.fill(0);
    }
    if (record.id !== id) {
      plaintext.fill(0);
      throw new VaultError(
        'ERR_VAULT_WRONG_ENTRY',
        `vault record stored under entry ${id} was sealed for another entry`,
      );
    }
    const result = record.enc === 'bytes' ? new Uint8Array(plaintext) : plaintext.toString('utf8');
    plaintext.fill(0);
    return result;
  }

  /** Removes the entry; true if there was one. */
  async delete(entryId: EntryId): Promise<boolean> {
    return this.#store.delete(canonicalEntryId(entryId));
  }

  /**
   * Makes a new KEK current in the key store and returns its id. Existing entries stay readable (their
   * records name the old KEK, which the key store keeps); run `rewrapAll` before retiring the old one.
   */
  async rotateKeyEncryptionKey(): Promise<string> {
    if (typeof this.#keyStore.rotate !== 'function') throw new TypeError('this key store cannot rotate');
    return this.#keyStore.rotate();
  }

  /**
   * Re-wraps every entry's data key under the current KEK. Ciphertexts, nonces and tags are untouched
   * (the KEK id is deliberately outside the authenticated data). Each write is a compare-and-set, so an
   * entry `put` concurrently is never overwritten with its older value. Per-entry key failures are
   * reported, not thrown; a key store or store outage aborts the pass. The key store is reloaded first
   * (when it can be), so a pass run after another process rotated re-wraps under that process's new KEK
   * rather than this process's stale one.
   */
  async rewrapAll(): Promise<RewrapReport> {
    if (typeof this.#keyStore.reload === 'function') await this.#keyStore.reload();
    const report: RewrapReport = { scanned: 0, rewrapped: 0, current: 0, gone: 0, raced: 0, failed: [] };
    for await (const id of this.#store.list()) {
      report.scanned += 1;
      const raw = await this.#store.get(id);
      if (raw === undefined) {
        report.gone += 1;
        continue;
      }
      const current = this.#keyStore.currentKeyId;
      let next: string;
      try {
        const record = parseRecord(raw);
        if (record.kek === current) {
          report.current += 1;
          continue;
        }
        const dek = await this.#keyStore.unwrap(record.kek, record.wdek);
        try {
          const { kekId, wrapped } = await this.#keyStore.wrap(dek);
          next = serializeRecord({ ...record, kek: kekId, wdek: wrapped });
        } finally {
          dek.fill(0);
        }
      } catch (error) {
        if (!(error instanceof VaultError) || error.code === 'ERR_VAULT_KEY_UNAVAILABLE') throw error;
        report.failed.push({ id, code: error.code });
        continue;
      }
      if (await this.#store.replace(id, raw, next)) report.rewrapped += 1;
      else report.raced += 1;
    }
    return report;
  }
}

/** The shortest way in: `createVault({ keyStore: await FileKeyStore.open({ path }) })`. */
export function createVault(options: VaultOptions): Vault {
  return new Vault(options);
}
