import {
  createPrivateKey,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { isEnvelopeAlgorithm } from './compact-jws.ts';
import { EnvelopeError } from './errors.ts';
import { entryFor, type PublicJwk, publicEntryFor, type RingEntry } from './key-ring.ts';

/**
 * The two documents a fleet's envelope keys come from, parsed into ring entries. Neither parser ever
 * quotes what it read: the documents hold private keys, so a refusal names the file and the member
 * at fault, nothing else.
 *
 * A key file (read and written by `SharedEnvelopeKeys.fromKeyFile`) holds the whole ring:
 *
 *     { "baton_envelope_keys": 1,
 *       "active":   <private JWK>,
 *       "staged":   { "key": <private JWK>, "staged_at": <unix seconds> },      (optional)
 *       "retiring": [{ "key": <private JWK>, "retire_at": <unix seconds> }] }
 *
 * An operator's JWKS (read only) is `{ "keys": [...] }`: the first key, private, signs; the others
 * (private or public) are published and verify.
 */

export const KEY_FILE_VERSION = 1;

/** The ring as a key file holds it. */
export interface RingState {
  active: RingEntry;
  staged?: RingEntry & { stagedAt: number };
  retiring: Array<RingEntry & { retireAt: number }>;
}

/** A published-only key of an operator's JWKS: verifies, never signs. */
export interface VerifyingEntry {
  kid: string;
  alg: RingEntry['alg'];
  publicKey: KeyObject;
  publicJwk: PublicJwk;
}

export function keysUnavailable(message: string, cause?: unknown): EnvelopeError {
  return new EnvelopeError(
    'ERR_ENVELOPE_KEYS_UNAVAILABLE',
    message,
    cause === undefined ? undefined : { cause },
  );
}

function parseJson(text: string, label: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error: private key material. Never passed on.
    throw keysUnavailable(`${label} ${source} is not JSON`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A private JWK into a ring entry; `where` names the member for the message. */
function privateEntry(value: unknown, label: string, source: string, where: string): RingEntry {
  const invalid = () =>
    keysUnavailable(
      `${label} ${source}: ${where} is not a private JWK with alg ES256, ES384 or EdDSA fitting its key`,
    );
  if (!isObject(value) || typeof value.d !== 'string' || !isEnvelopeAlgorithm(value.alg)) throw invalid();
  let entry: RingEntry;
  try {
    entry = entryFor(value.alg, createPrivateKey({ key: value as JsonWebKey, format: 'jwk' }));
  } catch {
    // Neither node:crypto's message nor its cause is passed on: both may describe the key.
    throw invalid();
  }
  // node:crypto takes a JWK's public part (x, y) as given: an altered `d` would sign envelopes that the
  // published key never verifies. One signature over a fixed message proves the two parts agree.
  const digest = entry.alg === 'EdDSA' ? null : entry.alg === 'ES256' ? 'sha256' : 'sha384';
  if (!verify(digest, SELF_CHECK, entry.publicKey, sign(digest, SELF_CHECK, entry.privateKey))) {
    throw invalid();
  }
  return entry;
}

const SELF_CHECK = Buffer.from('baton envelope key self-check');

function unixSeconds(value: unknown, label: string, source: string, where: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw keysUnavailable(`${label} ${source}: ${where} is not a time in Unix seconds`);
  }
  return value as number;
}

/** Parses a key file; throws `ERR_ENVELOPE_KEYS_UNAVAILABLE` naming only the file and the member. */
export function parseKeyFile(text: string, source: string, label = 'envelope key file'): RingState {
  const document = parseJson(text, label, source);
  if (!isObject(document) || document.baton_envelope_keys !== KEY_FILE_VERSION) {
    throw keysUnavailable(
      `${label} ${source} is not a Baton envelope key file (version ${KEY_FILE_VERSION})`,
    );
  }
  const state: RingState = {
    active: privateEntry(document.active, label, source, 'active'),
    retiring: [],
  };
  if (document.staged !== undefined) {
    if (!isObject(document.staged)) throw keysUnavailable(`${label} ${source}: staged is not an object`);
    state.staged = {
      ...privateEntry(document.staged.key, label, source, 'staged.key'),
      stagedAt: unixSeconds(document.staged.staged_at, label, source, 'staged.staged_at'),
    };
  }
  const retiring = document.retiring ?? [];
  if (!Array.isArray(retiring)) throw keysUnavailable(`${label} ${source}: retiring is not an array`);
  retiring.forEach((item: unknown, index) => {
    if (!isObject(item)) throw keysUnavailable(`${label} ${source}: retiring.${index} is not an object`);
    state.retiring.push({
      ...privateEntry(item.key, label, source, `retiring.${index}.key`),
      retireAt: unixSeconds(item.retire_at, label, source, `retiring.${index}.retire_at`),
    });
  });
  return state;
}

/** The key file text for `state`, keys exported as private JWKs with `kid` and `alg`. */
export function serializeKeyFile(state: RingState): string {
  const jwk = (entry: RingEntry) => ({
    ...(entry.privateKey.export({ format: 'jwk' }) as Record<string, string>),
    kid: entry.kid,
    alg: entry.alg,
    use: 'sig',
  });
  const document = {
    baton_envelope_keys: KEY_FILE_VERSION,
    active: jwk(state.active),
    ...(state.staged ? { staged: { key: jwk(state.staged), staged_at: state.staged.stagedAt } } : {}),
    retiring: state.retiring.map((entry) => ({ key: jwk(entry), retire_at: entry.retireAt })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Parses an operator's JWKS: the first key must be private and signs; the others verify. `kid` is
 * always the key's RFC 7638 thumbprint, whatever the document says, so every instance publishes the
 * same `kid` for the same key.
 */
export function parseOperatorJwks(
  input: string | { keys: unknown },
  source: string,
  label = 'envelope JWKS',
): { signing: RingEntry; verifying: VerifyingEntry[] } {
  const document = typeof input === 'string' ? parseJson(input, label, source) : input;
  const keys = isObject(document) ? document.keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw keysUnavailable(`${label} ${source} must be { "keys": [private JWK, ...] } with at least one key`);
  }
  const signing = privateEntry(keys[0], label, source, 'keys.0 (the signing key)');
  const verifying = keys.slice(1).map((value: unknown, index) => {
    const where = `keys.${index + 1}`;
    if (isObject(value) && typeof value.d === 'string') {
      const { kid, alg, publicKey, publicJwk } = privateEntry(value, label, source, where);
      return { kid, alg, publicKey, publicJwk };
    }
    return publicEntry(value, label, source, where);
  });
  return { signing, verifying };
}

function publicEntry(value: unknown, label: string, source: string, where: string): VerifyingEntry {
  const invalid = () =>
    keysUnavailable(
      `${label} ${source}: ${where} is not a JWK with alg ES256, ES384 or EdDSA fitting its key`,
    );
  if (!isObject(value) || !isEnvelopeAlgorithm(value.alg)) throw invalid();
  try {
    return publicEntryFor(value.alg, createPublicKey({ key: value as JsonWebKey, format: 'jwk' }));
  } catch {
    throw invalid();
  }
}
