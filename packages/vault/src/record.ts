import { VaultError } from './errors.ts';

/** The only record format version this code writes and reads. */
export const RECORD_VERSION = 1;

/** How the plaintext was given to `put`, so `get` returns the same type. */
export type PlaintextEncoding = 'utf8' | 'bytes';

/**
 * One sealed entry as it sits in a store. Everything a reader needs except the key-encryption key:
 *
 * - `v`: format version.
 * - `id`: the canonical entry id the record was sealed for (authenticated).
 * - `exp`: expiry, milliseconds since the epoch (authenticated, so a store cannot extend it).
 * - `enc`: whether the plaintext was a string or bytes (authenticated).
 * - `kek`: id of the key-encryption key that wrapped the data key. Not authenticated on purpose:
 *   re-wrapping under a new KEK changes it (and `wdek`) without touching the ciphertext. Changing it
 *   can only make the record unreadable, never readable under another key.
 * - `wdek`: the wrapped data key (AES key wrap carries its own integrity check).
 * - `iv`: the 96-bit AES-GCM nonce, fresh for every put.
 * - `ct`, `tag`: AES-256-GCM ciphertext and 128-bit tag.
 */
export interface SealedRecord {
  readonly v: typeof RECORD_VERSION;
  readonly id: string;
  readonly exp: number;
  readonly enc: PlaintextEncoding;
  readonly kek: string;
  readonly wdek: Uint8Array;
  readonly iv: Uint8Array;
  readonly ct: Uint8Array;
  readonly tag: Uint8Array;
}

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

const FIELDS = ['v', 'id', 'exp', 'enc', 'kek', 'wdek', 'iv', 'ct', 'tag'] as const;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The additional authenticated data for a record's AES-GCM seal: a fixed label, the version, the
 * canonical entry id, the expiry and the encoding, as a JSON array (unambiguous for these types).
 */
export function associatedData(record: Pick<SealedRecord, 'v' | 'id' | 'exp' | 'enc'>): Buffer {
  return Buffer.from(JSON.stringify(['baton-vault', record.v, record.id, record.exp, record.enc]), 'utf8');
}

/** One line of JSON with base64url byte fields: the same opaque string in memory, PostgreSQL and Redis. */
export function serializeRecord(record: SealedRecord): string {
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return JSON.stringify({
    v: record.v,
    id: record.id,
    exp: record.exp,
    enc: record.enc,
    kek: record.kek,
    wdek: b64(record.wdek),
    iv: b64(record.iv),
    ct: b64(record.ct),
    tag: b64(record.tag),
  });
}

const malformed = (what: string) =>
  new VaultError('ERR_VAULT_RECORD_MALFORMED', `stored vault record is malformed: ${what}`);

/** Strict base64url: Node's decoder silently skips stray characters, which would hide corruption. */
function bytesField(value: unknown, name: string): Buffer {
  if (typeof value !== 'string' || !BASE64URL.test(value)) throw malformed(`${name} is not base64url`);
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.toString('base64url') !== value) throw malformed(`${name} is not canonical base64url`);
  return bytes;
}

/**
 * Parses a stored record, checking its shape only. Authenticity is checked when it is opened; a record
 * that parses here can still be refused as tampered.
 */
export function parseRecord(text: string): SealedRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('not an object');
  const fields = value as Record<string, unknown>;
  if (fields.v !== RECORD_VERSION) {
    if (typeof fields.v === 'number') {
      throw new VaultError(
        'ERR_VAULT_RECORD_UNSUPPORTED',
        `stored vault record has format version ${fields.v}; this code reads version ${RECORD_VERSION}`,
      );
    }
    throw malformed('missing format version');
  }
  const keys = Object.keys(fields);
  if (keys.length !== FIELDS.length || !FIELDS.every((field) => Object.hasOwn(fields, field))) {
    throw malformed(`fields must be exactly ${FIELDS.join(', ')}`);
  }
  const { id, exp, enc, kek } = fields;
  if (typeof id !== 'string' || id.length === 0) throw malformed('id is not a string');
  if (typeof exp !== 'number' || !Number.isSafeInteger(exp) || exp < 0) throw malformed('exp is not a time');
  if (enc !== 'utf8' && enc !== 'bytes') throw malformed('enc is neither utf8 nor bytes');
  if (typeof kek !== 'string' || kek.length === 0) throw malformed('kek is not a key id');
  const iv = bytesField(fields.iv, 'iv');
  const tag = bytesField(fields.tag, 'tag');
  if (iv.length !== NONCE_BYTES) throw malformed(`iv is not ${NONCE_BYTES} bytes`);
  if (tag.length !== TAG_BYTES) throw malformed(`tag is not ${TAG_BYTES} bytes`);
  const wdek = bytesField(fields.wdek, 'wdek');
  if (wdek.length === 0) throw malformed('wdek is empty');
  return { v: RECORD_VERSION, id, exp, enc, kek, wdek, iv, ct: bytesField(fields.ct, 'ct'), tag };
}
